"""Fixtures shared by the host.testing specifications: a kernel with a tiny plugin."""

from collections.abc import Awaitable, Callable

import pytest
from semantic_kernel import Kernel
from semantic_kernel.contents import AuthorRole, StreamingChatMessageContent
from semantic_kernel.functions import KernelArguments, KernelFunction, kernel_function

StreamAnswer = Callable[[Kernel, KernelFunction, KernelArguments], Awaitable[str]]


class Notebook:
    """A native plugin whose side effect, appending to ``notes``, tests can observe."""

    def __init__(self, notes: list[str]) -> None:
        self.notes = notes

    @kernel_function(description="Write a note down.")
    def write(self, text: str) -> str:
        self.notes.append(text)
        return f"noted: {text}"


@pytest.fixture
def notes() -> list[str]:
    """What the ``notebook`` plugin has written, in order."""
    return []


@pytest.fixture
def kernel(notes: list[str]) -> Kernel:
    """A kernel with the ``notebook`` plugin and no model service yet."""
    kernel = Kernel()
    kernel.add_plugin(Notebook(notes), plugin_name="notebook")
    return kernel


@pytest.fixture
def stream_answer() -> StreamAnswer:
    """Invoke a function streaming and return the assistant text it streamed."""

    async def answer(kernel: Kernel, function: KernelFunction, arguments: KernelArguments) -> str:
        texts: list[str] = []
        async for update in kernel.invoke_stream(function, arguments):
            if isinstance(update, list):
                texts += [
                    str(message)
                    for message in update
                    if isinstance(message, StreamingChatMessageContent)
                    and message.role == AuthorRole.ASSISTANT
                ]
        return "".join(texts)

    return answer
