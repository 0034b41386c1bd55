"""Web conversation: a chat session's state, its stored conversations and its votes."""

import logging

import gradio as gr

from assistant import feedback, smalltalk
from ui import render

log = logging.getLogger("ui.web")  # one logger for the whole web face, split or not


def new_state() -> dict:
    """One entry per turn, aligned with the chat's (user, assistant) message pairs; `answers[i]` is
    None for a turn that produced no answer (bad input, rate limit, error). `chat` holds the rendered
    messages (two per turn): the conversation lives on the server, so a question never uploads it
    and the chat component is only an output of `respond`. `id` names the conversation in the
    browser's list of past conversations; it is given at the first question, because gr.State
    copies one default into every session."""
    return {"id": "", "questions": [], "answers": [], "chat": []}


def chat_of(questions, answers, links=None) -> list[dict]:
    """The rendered chat of answered turns (a reopened conversation)."""
    chat = []
    for question, answer in zip(questions, answers):
        chat += [{"role": "user", "content": render.text(question)},
                 {"role": "assistant", "content": render.answer_message(answer, links)}]
    return chat


def streams_tokens(assistant) -> bool:
    """Whether answers come as a model's token stream (shown as it grows) rather than whole, as the
    extractive answerer gives them. Unknown answerers count as streaming."""
    from assistant.extractive import ExtractiveAnswerer

    return not isinstance(getattr(getattr(assistant, "chain", None), "answerer", None), ExtractiveAnswerer)


def history_of(state: dict, turns: int) -> list[str]:
    asked = [q for q, a in zip(state["questions"], state["answers"]) if a is not None]
    return asked[-turns:] if turns else []


MAX_LISTED_CONVERSATIONS = 30


def owner_of(request: gr.Request | None, browser_id: str) -> str:
    """Whose conversations these are: the signed-in user, else the anonymous id this browser keeps
    in its local storage ("" before the page has one)."""
    user = getattr(request, "username", None) if request is not None else None
    if user:
        return f"user:{user}"
    return f"browser:{browser_id}" if browser_id else ""


def remember_turn(storage, state: dict, owner: str, index_version: str, history_turns: int) -> list:
    """Store the conversation's newest turn when it was answered; returns the owner's conversations,
    newest first. The database keeps them (any worker, after a reload), the browser only its id."""
    answers = state.get("answers") or []
    if answers and answers[-1] is not None:
        turn = len(answers) - 1
        history = history_of({"questions": state["questions"][:turn], "answers": answers[:turn]}, history_turns)
        # Named by its first question for the documents: "hi" names no conversation.
        answered = [(q, a) for q, a in zip(state["questions"], answers) if a is not None]
        title = next((q for q, a in answered if a.answerer != smalltalk.ANSWERER), answered[0][0])[:80]
        storage.save_turn(state["id"], owner, answers[-1], history=history, index_version=index_version, title=title)
    return storage.list_conversations(owner, limit=MAX_LISTED_CONVERSATIONS)


def restore_conversation(storage, conversation_id: str, owner: str) -> dict | None:
    """The state of a stored conversation of this owner, or None when it is gone or someone else's."""
    loaded = storage.load_conversation(conversation_id, owner)
    if loaded is None:
        return None
    conversation, turns = loaded
    return {"id": conversation.id, "questions": [t.question for t in turns],
            "answers": [t.to_answer() for t in turns]}


def conversation_choices(conversations) -> list[tuple[str, str]]:
    return [(f"{c.title} · {c.updated:%Y-%m-%d %H:%M}", c.id) for c in conversations]


def record_vote(assistant, settings, state: dict, vote: str, comment: str = "", turn: int | None = None) -> str:
    """Log a vote (and optional comment) for one turn's answer; returns the status line. A later
    vote or comment on the same answer replaces the earlier one (they share the turn id)."""
    answers = state["answers"]
    if turn is None:
        turn = max((i for i, a in enumerate(answers) if a is not None), default=-1)
    if not 0 <= turn < len(answers) or answers[turn] is None:
        return "There is no answer to rate yet."
    history = history_of({"questions": state["questions"][:turn], "answers": answers[:turn]},
                         settings.history_turns)
    try:
        feedback.record(settings, answers[turn], vote, comment=comment or "", channel="web", history=history,
                        index_version=assistant.index_version, turn_id=f"{state.get('id', '')}:{turn}")
    except OSError as exc:  # StorageUnavailable: the database is down; one line, as the other faces log it
        log.warning("feedback not saved: %s", exc)
        return "Your feedback could not be saved (the server cannot reach its database); please try again later."
    what = "comment" if comment else ("thumbs-up" if vote == "up" else "thumbs-down")
    return f"Thanks: your {what} on answer {turn + 1} was recorded."
