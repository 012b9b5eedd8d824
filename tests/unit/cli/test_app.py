"""Argument parsing of every vq command: what each accepts, its defaults, what it refuses."""

from __future__ import annotations

import pytest

from vq_extension.cli.app import build_parser, parse_args
from vq_extension.cli.errors import UsageError
from vq_extension.cli.http import DEFAULT_URL

ENV: dict[str, str] = {}


def parse(*argv: str, env: dict[str, str] | None = None):  # noqa: ANN201 - argparse.Namespace
    return parse_args(list(argv), ENV if env is None else env)


def test_every_command_is_registered() -> None:
    parser = build_parser()
    sub = next(a for a in parser._actions if a.dest == "command")
    assert set(sub.choices) == {"health", "workflows", "submit", "list", "status", "log", "cancel", "retry",
                                "rm", "pause", "resume", "priority", "top", "clear", "watch", "cleanup", "autoprompt"}


@pytest.mark.parametrize("argv", [["health"], ["pause"], ["resume"], ["workflows"], ["cleanup"], ["watch"],
                                  ["list"]])
def test_commands_without_arguments(argv: list[str]) -> None:
    args = parse(*argv)
    assert args.command == argv[0] and args.json is False and args.url == DEFAULT_URL


def test_global_options_work_before_and_after_the_command() -> None:
    before = parse("--json", "--url", "http://gpu:8188", "-v", "list")
    after = parse("list", "--json", "--url", "http://gpu:8188", "-v")
    for args in (before, after):
        assert args.json is True and args.url == "http://gpu:8188" and args.verbose == 1


def test_url_comes_from_the_flag_then_vq_url_then_the_default() -> None:
    assert parse("health", env={"VQ_URL": "http://box:9000"}).url == "http://box:9000"
    assert parse("health", "--url", "http://flag:1", env={"VQ_URL": "http://box:9000"}).url == "http://flag:1"
    assert parse("health").url == "http://127.0.0.1:8188"


def test_workflows_takes_an_optional_name() -> None:
    assert parse("workflows").name is None
    args = parse("workflows", "wan-i2v", "--reload")
    assert args.name == "wan-i2v" and args.reload is True


def test_submit_defaults() -> None:
    args = parse("submit", "t2i")
    assert (args.workflow, args.inputs, args.param, args.per_file) == ("t2i", [], [], [])
    assert (args.tries, args.seed, args.random_seed, args.priority, args.name) == (1, None, False, 0, None)
    assert (args.no_stage, args.move_processed, args.dry_run, args.wait) == (False, False, False, False)
    assert args.offline == "never" and args.data_dir is None and args.prompt_mode is None


def test_submit_every_option() -> None:
    args = parse("submit", "wan-i2v", "/data/stills", "-p", "steps=20", "--param", "cfg=3.5",
                 "--per-file", "a.png:positive_prompt=hi", "--tries", "3", "--seed", "42", "--priority", "-2",
                 "--name", "night", "--no-stage", "--move-processed", "--dry-run", "--wait",
                 "--prompt-mode", "per-image manual", "--interval", "0.5")
    assert args.inputs == ["/data/stills"] and args.param == ["steps=20", "cfg=3.5"]
    assert args.per_file == ["a.png:positive_prompt=hi"] and args.tries == 3 and args.seed == 42
    assert args.priority == -2 and args.name == "night" and args.no_stage and args.move_processed
    assert args.dry_run and args.wait and args.prompt_mode == "per-image manual" and args.interval == 0.5


def test_submit_takes_several_input_files() -> None:
    assert parse("submit", "wan-i2v", "a.png", "b.png").inputs == ["a.png", "b.png"]


def test_seed_and_random_seed_exclude_each_other() -> None:
    assert parse("submit", "t2i", "--random-seed").random_seed is True
    with pytest.raises(UsageError, match="not allowed with argument"):
        parse("submit", "t2i", "--seed", "1", "--random-seed")


@pytest.mark.parametrize("argv, mode", [
    (["submit", "--offline", "wan-i2v", "/x"], "always"),  # bare flag does not swallow the workflow
    (["submit", "wan-i2v", "/x", "--offline"], "always"),
    (["submit", "wan-i2v", "--offline=auto"], "auto"),
    (["submit", "wan-i2v", "--offline", "auto"], "auto"),
    (["submit", "wan-i2v"], "never"),
])
def test_offline_modes(argv: list[str], mode: str) -> None:
    args = parse(*argv)
    assert args.offline == mode and args.workflow == "wan-i2v"


def test_offline_data_dir_defaults_to_vq_data_dir() -> None:
    assert parse("submit", "t2i", "--offline", env={"VQ_DATA_DIR": "/q"}).data_dir == "/q"
    assert parse("submit", "t2i", "--offline", "--data-dir", "/d", env={"VQ_DATA_DIR": "/q"}).data_dir == "/d"


@pytest.mark.parametrize("argv, message", [
    (["submit", "t2i", "--tries", "0"], "at least 1"),
    (["submit", "t2i", "--tries", "two"], "whole number"),
    (["submit", "t2i", "--seed", "x"], "whole number"),
    (["submit"], "required: WORKFLOW"),
    (["submit", "t2i", "--offline=sometimes"], "invalid choice"),
    (["list", "--status", "done"], "unknown job status done"),
    (["list", "--limit", "0"], "at least 1"),
    (["list", "--sort", "name"], "invalid choice"),
    (["status"], "required: JOB"),
    (["status", "abc"], "whole number"),
    (["priority", "12"], "required: N"),
    (["log", "12", "--interval", "0"], "between 0 and 3600"),
    (["frobnicate"], "invalid choice"),
    ([], "required: COMMAND"),
    (["health", "--timeout", "-1"], "between 0 and 3600"),
])
def test_bad_arguments_are_usage_errors(argv: list[str], message: str) -> None:
    with pytest.raises(UsageError, match=message) as info:
        parse(*argv)
    assert info.value.hint and info.value.hint.startswith("usage: vq")


def test_list_options() -> None:
    args = parse("list", "--status", "failed, running", "--search", "night", "--limit", "20", "--sort=-created")
    assert (args.status, args.search, args.limit, args.sort) == ("failed,running", "night", 20, "-created")
    assert parse("list").limit == 50


def test_status_log_priority_top_take_a_job() -> None:
    assert parse("status", "12").job == 12
    args = parse("log", "12", "-f")
    assert args.job == 12 and args.follow is True and args.interval == 1.0
    args = parse("priority", "12", "-5")
    assert (args.job, args.priority) == (12, -5)
    assert parse("top", "7").job == 7


@pytest.mark.parametrize("command", ["cancel", "retry"])
def test_cancel_and_retry_take_jobs_or_a_prompt(command: str) -> None:
    assert parse(command, "1", "2", "3").jobs == [1, 2, 3]
    args = parse(command, "--prompt", "40")
    assert args.jobs == [] and args.prompt == 40


def test_clear_watch_cleanup_options() -> None:
    args = parse("clear", "-y", "--running")
    assert args.yes and args.running
    assert parse("clear").yes is False
    assert parse("watch", "12", "--interval", "2").job == 12
    assert parse("watch").job is None
    assert parse("cleanup", "--apply").apply is True and parse("cleanup").apply is False


def test_help_lists_the_exit_codes(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as info:
        parse("--help")
    assert info.value.code == 0
    text = capsys.readouterr().out
    for line in ("exit codes:", "0    success", "1    failure", "2    usage or validation error", "VQ_URL",
                 "NO_COLOR"):
        assert line in text


def test_each_command_help_lists_the_exit_codes_and_an_example(capsys: pytest.CaptureFixture[str]) -> None:
    sub = next(a for a in build_parser()._actions if a.dest == "command")
    for name in sub.choices:
        with pytest.raises(SystemExit):
            parse(name, "--help")
        text = capsys.readouterr().out
        assert "exit codes:" in text and f"vq {name}" in text, name
