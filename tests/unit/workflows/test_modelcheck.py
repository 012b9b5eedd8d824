"""missing_models names each model file the server lacks and its models folder; live option lists."""

from __future__ import annotations

import pytest

from vq_extension.workflows import missing_models, options_from_object_info, render


def with_files(object_info, **files):
    """object_info with some files installed, as a live server would list them."""
    patched = dict(object_info)
    for (cls, name), values in {("LoraLoaderModelOnly", "lora_name"): files.get("loras", []),
                                ("UNETLoader", "unet_name"): files.get("unets", [])}.items():
        info = {**patched[cls], "input": {**patched[cls]["input"], "required": dict(patched[cls]["input"]["required"])}}
        info["input"]["required"][name] = [values]
        patched[cls] = info
    return patched


def test_missing_models_of_the_wan_graph(shipped, object_info):
    graph = render(shipped("wan-i2v"), {"extra_loras": [{"high": "motion_high.safetensors"}]},
                   input_file="x.png", seed=1)
    server = with_files(object_info, loras=["wan2.2_i2v_lightx2v_4steps_lora_v1_high_noise.safetensors",
                                            "wan2.2_i2v_lightx2v_4steps_lora_v1_low_noise.safetensors"],
                        unets=["wan2.2_i2v_high_noise_14B_fp8_scaled.safetensors"])
    missing = missing_models(graph, server)
    assert [(m.node_id, m.class_type, m.input, m.name, m.folder) for m in missing] == [
        ("2", "UNETLoader", "unet_name", "wan2.2_i2v_low_noise_14B_fp8_scaled.safetensors", "diffusion_models"),
        ("7", "CLIPLoader", "clip_name", "umt5_xxl_fp8_e4m3fn_scaled.safetensors", "text_encoders"),
        ("8", "VAELoader", "vae_name", "wan_2.1_vae.safetensors", "vae"),
        ("18", "LoraLoaderModelOnly", "lora_name", "motion_high.safetensors", "loras"),
    ]
    assert missing[3].message == ("'motion_high.safetensors' is not in ComfyUI's models/loras folder "
                                  "(node 18, LoraLoaderModelOnly.lora_name)")
    assert missing[3].as_dict()["folder"] == "loras"


def test_missing_models_covers_checkpoints_and_upscale_models_and_ignores_inputs(shipped, object_info):
    t2i = render(shipped("t2i"), {"positive_prompt": "x"}, input_file=None, seed=1)
    assert [(m.name, m.folder) for m in missing_models(t2i, object_info)] == [
        ("v1-5-pruned-emaonly-fp16.safetensors", "checkpoints")]
    up = render(shipped("image-upscale-model"), {}, input_file="not-uploaded.png", seed=None)
    assert [(m.name, m.folder) for m in missing_models(up, object_info)] == [
        ("RealESRGAN_x4plus.safetensors", "upscale_models")]
    assert missing_models(render(shipped("smoke-video"), {}, input_file="x.png", seed=1), object_info) == []


def test_unknown_classes_are_left_to_validation(object_info):
    graph = {"1": {"class_type": "SomeCustomLoader", "inputs": {"lora_name": "x"}}}
    assert missing_models(graph, object_info) == []
    custom = {"MyLoader": {"input": {"required": {"lora_name": [["a"]]}}, "category": "loaders", "output": ["MODEL"]}}
    graph = {"1": {"class_type": "MyLoader", "inputs": {"lora_name": "b"}}}
    assert [(m.name, m.folder) for m in missing_models(graph, custom)] == [("b", "loras")]


def test_options_from_object_info(object_info):
    options = options_from_object_info(with_files(object_info, loras=["a.safetensors"]))
    assert options("loras") == ["a.safetensors"]
    assert "euler" in options("samplers") and "simple" in options("schedulers")
    assert "pixel_space" in options("vae")
    assert options("checkpoints") == []
    with pytest.raises(LookupError, match="unknown options source 'lora'; known: checkpoints"):
        options("lora")
