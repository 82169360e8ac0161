"""Prompt files in SK's handlebars and jinja2 formats load and render as SK renders them."""

from __future__ import annotations

from pathlib import Path

import pytest

from host import AgentHost
from host.testing import ScriptedChatCompletion

TEMPLATES = {
    "handlebars": "{{#if name}}Hello {{name}}{{else}}Hi{{/if}}!",
    "jinja2": "{% if name %}Hello {{ name }}{% else %}Hi{% endif %}!",
}


@pytest.mark.parametrize("template_format", sorted(TEMPLATES))
async def test_a_prompt_in_another_template_format_renders_its_variables_and_conditions(
    tmp_path: Path, scripted_config: Path, template_format: str
) -> None:
    """A loader that dropped ``template_format`` would render these as SK's own format, which
    reads ``{{name}}`` as a function call and fails."""
    prompts = tmp_path / "prompts" / "greetings"
    prompts.mkdir(parents=True)
    (prompts / "hello.yaml").write_text(
        f"name: Hello\ntemplate_format: {template_format}\n"
        f"template: {TEMPLATES[template_format]!r}\n"
        "input_variables:\n  - {name: name}\n",
        encoding="utf-8",
    )
    echo = ScriptedChatCompletion.echo("main")

    async with AgentHost(
        scripted_config, prompt_dirs=[prompts.parent], strict=True, models={"main": echo}
    ) as host:
        record = await host.invoke("greetings.Hello", {"name": "Ada"})

    assert record.output == "Hello Ada!"
