"""Shell completion (docs/cli.md): click's, through the `_TOOLKIT_COMPLETE` variable."""

from __future__ import annotations

from cli_helpers import toolkit_cli


def test_bash_completion_script_and_answers() -> None:
    script = toolkit_cli(env={"_TOOLKIT_COMPLETE": "bash_source"})
    assert script.returncode == 0 and "_toolkit_completion()" in script.stdout
    assert "complete -o nosort -F _toolkit_completion toolkit" in script.stdout
    commands = toolkit_cli(env={"_TOOLKIT_COMPLETE": "bash_complete", "COMP_WORDS": "toolkit se", "COMP_CWORD": "1"})
    assert commands.stdout.split() == ["plain,secret", "plain,serve"]
    subcommands = toolkit_cli(env={"_TOOLKIT_COMPLETE": "bash_complete", "COMP_WORDS": "toolkit app ", "COMP_CWORD": "2"})
    assert set(subcommands.stdout.split()) == {"plain,list", "plain,logs", "plain,stop"}
    for command in ("serve", "run", "deploy"):  # APP_REF: the shell completes file names
        app_ref = toolkit_cli(env={"_TOOLKIT_COMPLETE": "bash_complete", "COMP_WORDS": f"toolkit {command} exa",
                                   "COMP_CWORD": "2"})
        assert app_ref.stdout.split() == ["file,exa"], (command, app_ref.stdout)


def test_zsh_and_fish_scripts() -> None:
    assert "#compdef toolkit" in toolkit_cli(env={"_TOOLKIT_COMPLETE": "zsh_source"}).stdout
    assert "complete --no-files --command toolkit" in toolkit_cli(env={"_TOOLKIT_COMPLETE": "fish_source"}).stdout
