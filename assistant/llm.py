"""Chat model: the one module that builds and speaks a LangChain chat model (any provider, or llama.cpp)."""

from __future__ import annotations

from collections.abc import Iterator

from assistant.errors import UserError


def load_chat_model(spec: str, temperature: float = 0.0, threads: int = 0, context: int = 4096,
                    max_tokens: int = 400):
    """`provider:model` through init_chat_model (openai:gpt-4o-mini, ollama:llama3.2, ...), or
    `llamacpp:/path/model.gguf` through langchain-community's ChatLlamaCpp."""
    provider, _, name = spec.partition(":")
    if not name:
        raise UserError(f"ASSISTANT_LLM must look like provider:model (e.g. openai:gpt-4o-mini), got {spec!r}")
    if provider == "llamacpp":
        hint = "llamacpp models need the extra: pip install -e '.[llamacpp]'"
        try:
            from langchain_community.chat_models import ChatLlamaCpp
        except ImportError as exc:
            raise UserError(hint) from exc
        from pathlib import Path

        if not Path(name).is_file():
            raise UserError(f"no GGUF model file at {name}")
        try:
            # Qwen2.5 GGUF files answer garbage with LangChain's defaults; these settings fix that.
            import os

            # llama-cpp-python uses one thread unless told; every core answers several times faster.
            return ChatLlamaCpp(model_path=name, temperature=temperature, n_ctx=context, n_batch=512,
                                n_threads=threads or os.cpu_count() or 1, rope_freq_base=0, repeat_penalty=1.0,
                                max_tokens=max_tokens, verbose=False)
        except ImportError as exc:
            raise UserError(hint) from exc
        except Exception as exc:
            raise UserError(f"cannot load {name}: {exc}") from exc
    try:
        from langchain.chat_models import init_chat_model

        return init_chat_model(name, model_provider=provider, temperature=temperature)
    except ImportError as exc:
        raise UserError(f"the {provider!r} chat model needs its LangChain package: pip install "
                        f"langchain-{provider} ({exc})") from exc
    except ValueError as exc:
        raise UserError(f"cannot build chat model {spec!r}: {exc}") from exc


def _text(content) -> str:
    """A message's text: providers send a string, or a list of typed parts."""
    if isinstance(content, str):
        return content
    return "".join(p.get("text", "") for p in content if isinstance(p, dict)) if isinstance(content, list) else ""


def stream_text(model, messages) -> Iterator[str]:
    """The model's reply as text pieces, as they arrive."""
    for piece in model.stream(messages):
        text = _text(piece.content)
        if text:
            yield text


def ask_text(model, prompt: str) -> str:
    """One user prompt, the whole reply as text."""
    from langchain_core.messages import HumanMessage

    return _text(model.invoke([HumanMessage(prompt)]).content)
