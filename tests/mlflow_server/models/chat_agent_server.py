"""MLflow AgentServer app (no agent_type: no validation) for the scripted ChatAgent.

Runs only inside the MLflow venv, started as
    uvicorn --app-dir tests/mlflow_server/models chat_agent_server:app
`stream: true` gives `text/event-stream` with one `data: {"delta": …}` per ChatAgentChunk.
"""

from __future__ import annotations

from chat_agent import ScriptedChatAgent
from mlflow.genai.agent_server import AgentServer, invoke, stream

AGENT = ScriptedChatAgent()


@invoke()
def answer(request: dict):
    """Non-streaming call: the agent's ChatAgentResponse."""
    return AGENT.predict(request)


@stream()
def answer_stream(request: dict):
    """Streaming call: the agent's ChatAgentChunks."""
    yield from AGENT.predict_stream(request)


app = AgentServer().app
