"""Service settings, read from `ARBITER_*` environment variables (or a `.env` file)."""

from __future__ import annotations

import secrets
from functools import cached_property
from pathlib import Path
from typing import Literal

from pydantic import Field, SecretStr, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

# Files that ship with the package: the default variants, prices and example use case.
DEFAULTS = Path(__file__).parent / "defaults"
# The admin key is a bearer secret checked with a fast hash: only a long random one resists
# guessing offline (from a copy of the store) and online.
MIN_ADMIN_KEY_CHARS = 32
MAKE_ADMIN_KEY = "python -c \"import secrets; print('arb_' + secrets.token_urlsafe(32))\""
# The link-signing key when none is set: one per process (see `link_secret`).
_PROCESS_LINK_SECRET = secrets.token_urlsafe(32)


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="ARBITER_", env_file=".env", extra="ignore")

    home: Path = Field(
        default=Path(".arbiter"),
        description="Directory for the embedded SQLite store and other local state.",
    )
    database_url: str | None = Field(
        default=None,
        description="SQLAlchemy URL. Default: sqlite:///<home>/arbiter.db (WAL mode).",
    )
    variants_file: Path | None = Field(
        default=None,
        description="TOML or YAML file declaring variants. Default: ./arbiter.toml if it "
        "exists, else the bundled local-model variants.",
    )
    prices_file: Path | None = Field(
        default=None, description="TOML file overriding the bundled price table."
    )
    host: str = "127.0.0.1"
    port: int = 8000
    max_prompt_chars: int = Field(default=32_000, ge=1)
    max_panes: int = Field(default=4, ge=2)
    default_timeout_s: float = Field(default=120.0, gt=0)
    auto_migrate: bool = Field(default=True, description="Run database migrations at start-up.")
    rag_sample_corpus: bool = Field(
        default=True,
        description="Ingest the bundled sample corpus into `sample`, and its Chinese edition "
        "into `sample-zh`, at start-up.",
    )
    rag_max_file_mb: int = Field(default=20, ge=1, description="Largest file ingest accepts.")
    rag_max_unpacked_mb: int = Field(
        default=100,
        ge=1,
        description="Most a document may unpack to (a .docx's zip parts, by their declared "
        "sizes and as read; a PDF's streams; the text taken out). Larger: refused.",
    )
    rag_max_elements: int = Field(
        default=200_000,
        ge=1,
        description="Most paragraphs, table rows and runs (.docx), pages (PDF), rows "
        "(CSV/JSONL) or tags (HTML) in one document. More: refused.",
    )
    rag_parse_timeout_s: float = Field(
        default=60.0,
        gt=0,
        description="Seconds one document may take to read. Documents are read in a worker "
        "process, stopped after this (and when the server stops).",
    )
    link_secret: SecretStr = Field(
        default_factory=lambda: SecretStr(_PROCESS_LINK_SECRET),
        description="Key that signs the short-lived links the page hands to a signed-in "
        "browser (cited chunks at /chunks/{id}, report frames). Default: random per process, "
        "so a link works only on the process that made it: give replicas a shared one.",
    )
    link_ttl_s: int = Field(
        default=3600, ge=10, description="How long a signed link from the page stays valid."
    )
    online_metrics: str = Field(
        default="answer_relevancy_embedding,faithfulness_overlap",
        description="Comma-separated metrics scored in the background on every answer of the "
        "page and the API (reference-free: answer_relevancy_embedding, faithfulness_overlap; "
        "with ARBITER_ONLINE_JUDGE also ragas' answer_relevancy, faithfulness). Empty: none.",
    )
    online_judge: str | None = Field(
        default=None,
        description="A variant that grades every answer on the rubric in the background.",
    )
    worker: bool = Field(
        default=True,
        description="Run background jobs (online scoring, campaign answers) inside the web "
        "process. Turn off "
        "on replicas when `arbiter worker` processes do the work.",
    )
    prometheus: bool = Field(default=True, description="Serve Prometheus metrics at /metrics.")
    telemetry_queue: int = Field(
        default=10_000,
        ge=100,
        description="Telemetry records waiting for the sinks; more are dropped (and counted).",
    )
    otel: bool = Field(
        default=False,
        description="Export traces and metrics over OTLP (also on when "
        "OTEL_EXPORTER_OTLP_ENDPOINT is set); configured by the standard OTEL_* variables.",
    )
    cloudwatch: bool = Field(
        default=False,
        description="Send metrics to Amazon CloudWatch (credentials and region: the AWS chain).",
    )
    cloudwatch_namespace: str = Field(default="Arbiter", min_length=1, max_length=255)
    cloudwatch_flush_s: float = Field(
        default=60.0, gt=0, description="How often buffered metrics are put to CloudWatch."
    )
    deployments_file: Path | None = Field(
        default=None,
        description="TOML or YAML with [[deployments]]: gateway routes (A/B split, shadows, "
        "sampling). They seed the store; admin edits through the API are kept.",
    )
    discover_region: str | None = Field(
        default=None,
        description="Region `arbiter models discover`, GET /api/discover and the Models page "
        "look in (default: the AWS chain's, e.g. AWS_REGION).",
    )
    discover_profile: str | None = Field(
        default=None, description="AWS profile for model discovery (default: the AWS chain)."
    )
    discover_endpoint_url: str | None = Field(
        default=None,
        description="An AWS endpoint URL for model discovery (a VPC endpoint, a test server); "
        "the variants made from what it finds call it too.",
    )
    auth: Literal["none", "keys", "header"] = Field(
        default="none",
        description="none: one local admin (loopback only); keys: API keys and page sign-in; "
        "header: people authenticated by a proxy (OIDC/SSO) in trusted headers.",
    )
    admin_key: SecretStr | None = Field(
        default=None,
        description="With ARBITER_AUTH=keys: an admin API key you choose (stored hashed), to "
        f"create the others; at least {MIN_ADMIN_KEY_CHARS} characters. Make one with "
        f"`{MAKE_ADMIN_KEY}`.",
    )
    signin_max_failures: int = Field(
        default=5,
        ge=1,
        description="Wrong passwords for one name within ARBITER_SIGNIN_WINDOW_S before "
        "sign-in under that name is refused for a while (counted in each server process).",
    )
    signin_max_failures_per_address: int = Field(
        default=20,
        ge=1,
        description="Failed sign-ins from one client address, whatever the names, within "
        "ARBITER_SIGNIN_WINDOW_S before that address is refused for a while (counted in each "
        "server process).",
    )
    signin_window_s: float = Field(
        default=900.0, gt=0, description="How long a failed sign-in counts against a limit."
    )
    signin_lockout_s: float = Field(
        default=60.0,
        gt=0,
        description="How long a name or address is refused after reaching its limit; each "
        "further lockout in a row doubles it (up to a day).",
    )
    trusted_proxies: str = Field(
        default="127.0.0.1/32,::1/128",
        description="With ARBITER_AUTH=header: addresses whose user headers are believed.",
    )
    provider_key_envs: str = Field(
        default="OPENAI_API_KEY",
        description="Comma-separated environment variables a variant's `api_key_env` may "
        "name, besides any ARBITER_PROVIDER_KEY_* variable. Other ARBITER_* and AWS_* "
        "variables are refused even when listed.",
    )
    auth_user_header: str = "X-Forwarded-User"
    auth_roles_header: str = "X-Forwarded-Groups"
    metrics_key: SecretStr | None = Field(
        default=None,
        description="With ARBITER_AUTH=keys or header: the bearer token Prometheus sends to "
        "scrape /metrics (`authorization: {credentials: ...}` in its scrape config). Without "
        "it only admins may read /metrics.",
    )
    max_request_mb: int = Field(default=25, ge=1, description="Larger request bodies: 413.")
    rate_per_min: int | None = Field(
        default=None, ge=1, description="Default requests per minute per key or person."
    )
    max_concurrency: int | None = Field(
        default=None, ge=1, description="Default requests in flight per key or person."
    )
    daily_tokens: int | None = Field(
        default=None, ge=1, description="Default model tokens per key or person per UTC day."
    )
    shutdown_grace_s: int = Field(
        default=30, ge=1, description="On shutdown, seconds requests in flight may finish."
    )
    breaker_failures: int = Field(
        default=5,
        ge=1,
        description="Calls failing in a row before a model endpoint is held "
        "down (calls fail at once).",
    )
    breaker_cooldown_s: float = Field(
        default=30.0, gt=0, description="How long an endpoint is held down before a trial call."
    )
    example_use_case: bool = Field(
        default=True,
        description="Define the bundled example use case (lumen-support) at start-up when its "
        "variants are configured.",
    )
    limits_sync_s: float = Field(
        default=5.0,
        ge=0,
        description="How often the day's token counts per key are written to the store and "
        "read back (daily budgets survive restarts and are shared by replicas on one "
        "database). 0: never (counts stay in this process).",
    )
    redis_url: SecretStr | None = Field(
        default=None,
        description="Redis URL (redis://host:6379/0) shared by every replica: per-key request "
        "rates and requests in flight are then counted across replicas. Unset: each process "
        "counts its own. If Redis stops answering, each process falls back to its own counts "
        "(counted in arbiter_limits_redis_failures_total on /metrics) until it answers again.",
    )
    job_lease_s: float = Field(
        default=60.0,
        ge=1,
        description="How long a worker's claim on a running job holds without a heartbeat "
        "(renewed three times per period). A job of a killed worker or replica is taken over "
        "by another worker this long after its last heartbeat.",
    )
    tuning_poll_seconds: float = Field(
        default=60.0,
        ge=0,
        description="How often unfinished tuning jobs are asked where they are and moved on "
        "(serving, the tuned variant, the comparison) without anyone looking: by `arbiter "
        "serve` and `arbiter worker`, one process at a time on a shared PostgreSQL store. "
        "0: never (jobs move on when `arbiter tune status` or the Tuning page asks).",
    )
    variant_sync_seconds: float = Field(
        default=5.0,
        ge=0,
        description="How often this process checks the store for variants created by another "
        "replica (POST /api/variants, a discovered model, a tuned variant) and adds them, and "
        "for deployments set there (PUT /api/deployments); a request naming a variant or "
        "deployment not known here checks at once, a changed deployment applies within this "
        "period. 0: only at start-up and on such requests.",
    )
    goals_interval_s: float = Field(
        default=60.0,
        ge=0,
        description="How often every use case's goal status is computed and exported "
        "(arbiter_goal_met on /metrics, GoalMet in CloudWatch). 0: never.",
    )
    batch_s3_uri: str | None = Field(
        default=None,
        description="s3://bucket/prefix where eval runs on a batch backend (--backend "
        "bedrock-batch or sagemaker-transform) write their input files and the service its "
        "outputs. The bucket must exist, in the models' region.",
    )
    bedrock_batch_role_arn: str | None = Field(
        default=None,
        description="The IAM service role Bedrock batch inference assumes to read the input "
        "and write the output under ARBITER_BATCH_S3_URI (trusts bedrock.amazonaws.com; "
        "s3:GetObject, s3:ListBucket, s3:PutObject on that prefix).",
    )
    bedrock_batch_min_records: int = Field(
        default=100,
        ge=1,
        description="Fewest records Bedrock accepts in one batch inference job (the default "
        "quota; raise or lower it to your account's). Fewer: the run is refused.",
    )
    bedrock_batch_max_records: int = Field(
        default=50_000,
        ge=1,
        description="Most records per batch inference job (and input file) by the default "
        "quota; more are split into several jobs.",
    )
    sagemaker_transform_instance_type: str = Field(
        default="ml.g5.xlarge",
        description="Instance type of SageMaker batch transform jobs (the endpoint's model "
        "runs on it).",
    )
    sagemaker_transform_instance_count: int = Field(default=1, ge=1, le=100)
    sagemaker_transform_max_records: int = Field(
        default=100_000, ge=1, description="Most lines per transform job; more: several jobs."
    )
    batch_poll_s: float = Field(
        default=30.0, gt=0, description="How often a batch job's status is read while it runs."
    )
    log_level: str = "info"
    log_json: bool = False

    @field_validator("admin_key")
    @classmethod
    def _long_admin_key(cls, key: SecretStr | None) -> SecretStr | None:
        if key is not None and len(key.get_secret_value()) < MIN_ADMIN_KEY_CHARS:
            raise ValueError(
                f"the admin key is too short ({len(key.get_secret_value())} characters): "
                f"use a random key of at least {MIN_ADMIN_KEY_CHARS} characters. Make one "
                f"with: {MAKE_ADMIN_KEY}"
            )
        return key

    @property
    def trusted_proxy_list(self) -> list[str]:
        return [p.strip() for p in self.trusted_proxies.split(",") if p.strip()]

    @property
    def provider_key_env_list(self) -> list[str]:
        return [n.strip() for n in self.provider_key_envs.split(",") if n.strip()]

    @property
    def online_metric_names(self) -> list[str]:
        return [m.strip() for m in self.online_metrics.split(",") if m.strip()]

    @cached_property
    def resolved_database_url(self) -> str:
        if self.database_url:
            return self.database_url
        return f"sqlite:///{(self.home / 'arbiter.db').resolve()}"

    @cached_property
    def resolved_variants_file(self) -> Path:
        if self.variants_file is not None:
            return self.variants_file
        local = Path("arbiter.toml")
        if local.exists():
            return local
        return DEFAULTS / "variants.toml"
