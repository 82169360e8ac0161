"""Model providers behind Semantic Kernel's chat-completion interface."""
