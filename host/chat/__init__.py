"""``agent-host chat``: a terminal conversation with the host.

Each line is a request the host plans and executes (:meth:`host.AgentHost.run`),
with the session's earlier results given for follow-ups, or a slash command
(:mod:`host.chat.commands`). Sessions and their turns are kept beside the runs
(:mod:`host.chat.sessions`). Importing this package imports nothing else: the
CLI pulls in prompt_toolkit and Semantic Kernel only when ``chat`` runs.
"""
