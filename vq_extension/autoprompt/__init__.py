"""Auto-prompt: LM Studio writes WAN motion prompts from images, in two cached stages."""
