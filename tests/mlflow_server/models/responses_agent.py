"""MLflow "models from code" file: a scripted `mlflow.pyfunc.ResponsesAgent`.

Runs only inside the MLflow venv (.venv-mlflow). Deterministic, no network, no LLM. Output:
a reasoning item, a `function_call` to `lookup_order(order_id=7)`, its
`function_call_output`, then a text message that echoes the last user message.
`predict_stream` emits the same items as `response.output_item.done` events, with the text
also streamed as `response.output_text.delta` events before its final item, and ends with
`response.completed` carrying the whole response and its usage.
"""

from __future__ import annotations

from collections.abc import Generator

import mlflow
from mlflow.pyfunc import ResponsesAgent
from mlflow.types.responses import (
    ResponsesAgentRequest,
    ResponsesAgentResponse,
    ResponsesAgentStreamEvent,
)

CALL_ID = "call_lookup_7"
TEXT_ID = "msg_final"
USAGE = {"input_tokens": 12, "input_tokens_details": {"cached_tokens": 0}, "output_tokens": 9,
         "output_tokens_details": {"reasoning_tokens": 3}, "total_tokens": 21}


def _last_user_text(request: ResponsesAgentRequest) -> str:
    for item in reversed(request.input):
        data = item.model_dump()
        if data.get("role") != "user":
            continue
        content = data.get("content")
        if isinstance(content, str):
            return content
        return " ".join(p.get("text", "") for p in content or [] if isinstance(p, dict))
    return ""


def _answer(request: ResponsesAgentRequest) -> str:
    return f"Order 7 has shipped. You asked: {_last_user_text(request)}"


class ScriptedResponsesAgent(ResponsesAgent):
    """Reasoning, one tool call with its output, then text; streams the text in words."""

    def _steps(self) -> list[dict]:
        return [
            self.create_reasoning_item(id="rs_1", reasoning_text="I should look the order up."),
            self.create_function_call_item(id="fc_1", call_id=CALL_ID, name="lookup_order",
                                           arguments='{"order_id": 7}'),
            self.create_function_call_output_item(call_id=CALL_ID,
                                                  output='{"order_id": 7, "status": "shipped"}'),
        ]

    def predict(self, request: ResponsesAgentRequest) -> ResponsesAgentResponse:
        text = self.create_text_output_item(text=_answer(request), id=TEXT_ID)
        return ResponsesAgentResponse(output=[*self._steps(), text], usage=USAGE,
                                      custom_outputs=request.custom_inputs)

    def predict_stream(
        self, request: ResponsesAgentRequest
    ) -> Generator[ResponsesAgentStreamEvent, None, None]:
        for item in self._steps():
            yield ResponsesAgentStreamEvent(type="response.output_item.done", item=item)
        answer = _answer(request)
        for i, word in enumerate(answer.split(" ")):
            delta = word if i == 0 else " " + word
            yield ResponsesAgentStreamEvent(**self.create_text_delta(delta=delta, item_id=TEXT_ID))
        text = self.create_text_output_item(text=answer, id=TEXT_ID)
        yield ResponsesAgentStreamEvent(type="response.output_item.done", item=text)
        done = {"object": "response", "status": "completed", "output": [*self._steps(), text],
                "usage": USAGE}
        yield ResponsesAgentStreamEvent(type="response.completed", response=done)


mlflow.models.set_model(ScriptedResponsesAgent())
