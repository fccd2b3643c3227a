"""MLflow AgentServer app (the server Databricks Apps agents run) for the scripted ResponsesAgent.

Runs only inside the MLflow venv, started as
    uvicorn --app-dir tests/mlflow_server/models responses_agent_server:app
Unlike `mlflow models serve`, this server streams: `stream: true` on POST /invocations or
/responses gives `text/event-stream` with one `data: {event}` per predict_stream event.
"""

from __future__ import annotations

from mlflow.genai.agent_server import AgentServer, invoke, stream
from responses_agent import ScriptedResponsesAgent

AGENT = ScriptedResponsesAgent()


@invoke()
def answer(request):
    """Non-streaming call: the agent's ResponsesAgentResponse."""
    return AGENT.predict(request)


@stream()
def answer_stream(request):
    """Streaming call: the agent's predict_stream events."""
    yield from AGENT.predict_stream(request)


app = AgentServer("ResponsesAgent").app
