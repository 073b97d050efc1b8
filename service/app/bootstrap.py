"""Wiring: the settings become a store, a variant catalog, prices, the compare engine, the
document library, telemetry, access control and the evaluation runner — checked before
anything listens."""

from __future__ import annotations

from collections.abc import Callable

import structlog

from evals.base import Metric
from evals.judges import RubricJudge
from monitoring.records import Record
from rag import Library
from service.access import (
    SCOPES,
    Authenticator,
    KeyLimits,
    Keys,
    Limiter,
    Links,
    RedisCounts,
    SignIn,
)
from service.app.runtime import Runtime
from service.app.telemetry import build_telemetry
from service.app.variant_sync import VariantSync
from service.config import Settings
from service.documents import build_library
from service.errors import ArbiterError, ErrorCode
from service.evaluation import (
    BatchJobRunner,
    BedrockBatch,
    EvalRunner,
    OnlineScoring,
    SageMakerTransform,
    scorers,
    usecases,
)
from service.labels import EloReplays
from service.models import Breakers, Catalog, KeyEnvs, ModelFactory, PriceTable, load_variants
from service.serving import BlindHold, CompareEngine, Deployments, Gateway, load_deployments
from service.store import JobQueue, Store, turns, variants

log = structlog.get_logger(__name__)


def build_runtime(
    settings: Settings,
    *,
    model_factory: ModelFactory | None = None,
    store: Store | None = None,
) -> Runtime:
    """Load and check everything the service needs. Raises `ArbiterError` with a clear
    message (bad config, unreachable database) before anything listens."""
    key_envs = KeyEnvs.of(settings)
    declared = load_variants(settings.resolved_variants_file, key_envs=key_envs)
    prices = PriceTable.load(settings.prices_file)
    if store is None:
        if settings.resolved_database_url.startswith("sqlite"):
            settings.home.mkdir(parents=True, exist_ok=True)
        store = Store(settings.resolved_database_url)
    if settings.auto_migrate:
        store.upgrade()
    else:
        store.ping()
    interrupted = turns.recover_interrupted(store)
    if interrupted:
        log.warning("store.recovered", interrupted_turns=interrupted)
    variants.sync_variants(store, declared)
    catalog = Catalog(declared, model_factory, key_envs=key_envs)
    for name, reason in catalog.add_stored(variants.api_variants(store)):
        log.warning("variant.refused", variant=name, reason=reason)
    if settings.example_use_case:
        usecases.apply_example(store, catalog)
    library = build_library(settings, store.engine)
    telemetry, prometheus = build_telemetry(settings)
    blind_hold = BlindHold(telemetry.emit, emit_many=telemetry.emit_many)
    online = OnlineScoring(
        store, *_online_scorers(settings, library, catalog), emit=blind_hold.emit
    )
    engine = CompareEngine(
        store,
        catalog,
        prices,
        max_prompt_chars=settings.max_prompt_chars,
        max_panes=settings.max_panes,
        default_timeout_s=settings.default_timeout_s,
        library=library,
        emit=telemetry.emit,
        breakers=Breakers(settings.breaker_failures, settings.breaker_cooldown_s),
        blind_hold=blind_hold,
    )
    keys = Keys(store)
    if settings.auth == "keys" and settings.admin_key is not None:
        keys.ensure("admin (ARBITER_ADMIN_KEY)", settings.admin_key.get_secret_value(), SCOPES)
    auth = Authenticator(
        settings.auth,
        keys,
        store,
        user_header=settings.auth_user_header,
        roles_header=settings.auth_roles_header,
        trusted_proxies=settings.trusted_proxy_list,
    )
    limiter = Limiter(
        KeyLimits(settings.rate_per_min, settings.max_concurrency, settings.daily_tokens),
        store,
        _shared_counts(settings),
    )
    if prometheus is not None:
        prometheus.watch_limits(limiter.shared_stats)
    deployments = Deployments(store, catalog.names())
    deployments.load(
        load_deployments(settings.deployments_file) if settings.deployments_file else []
    )
    variant_sync = VariantSync(store, catalog, deployments)
    catalog.look_up_with(variant_sync.lookup)
    deployments.look_up_with(variant_sync.lookup)
    runtime = Runtime(
        settings,
        store,
        catalog,
        prices,
        engine,
        library,
        JobQueue(store, lease_s=settings.job_lease_s),
        online,
        telemetry,
        Gateway(engine, deployments),
        keys,
        auth,
        limiter,
        EvalRunner(
            store,
            catalog,
            prices,
            library,
            telemetry.emit,
            default_timeout_s=settings.default_timeout_s,
            batch=batch_jobs(settings, store, prices, telemetry.emit),
        ),
        Links(
            settings.link_secret.get_secret_value(),
            settings.link_ttl_s,
            enabled=settings.auth != "none",
        ),
        prometheus,
        signin=SignIn(
            store,
            max_failures=settings.signin_max_failures,
            max_failures_per_address=settings.signin_max_failures_per_address,
            window_s=settings.signin_window_s,
            lockout_s=settings.signin_lockout_s,
        ),
        variant_sync=variant_sync,
        elo=EloReplays(store),
    )
    engine.after_turn = runtime.after_turn
    runtime.gateway.writer.on_stored = runtime.score_later
    return runtime


def _shared_counts(settings: Settings) -> RedisCounts | None:
    """Redis for limits shared by replicas; None without ARBITER_REDIS_URL. Not reachable
    now: a warning, and the limiter counts in this process until it answers."""
    if settings.redis_url is None:
        return None
    # A request counts in flight until it ends, or at the latest this long after it began
    # (a replica killed mid-request frees its slots then).
    counts = RedisCounts(
        settings.redis_url.get_secret_value(),
        lease_s=settings.default_timeout_s + settings.shutdown_grace_s,
    )
    if not counts.ping():
        log.warning("limits.redis_unreachable", fallback="per-process counts until it answers")
    return counts


def _online_scorers(
    settings: Settings, library: Library, catalog: Catalog
) -> tuple[list[Metric], RubricJudge | None]:
    hint = (
        "Use reference-free metrics such as answer_relevancy_embedding,faithfulness_overlap "
        "(or ragas' answer_relevancy,faithfulness with ARBITER_ONLINE_JUDGE), or leave it empty."
    )
    try:
        metrics, rubric = scorers(
            settings.online_metric_names, library, catalog, settings.online_judge
        )
    except ArbiterError as exc:
        raise ArbiterError(
            f"ARBITER_ONLINE_METRICS / ARBITER_ONLINE_JUDGE: {exc.message}",
            code=ErrorCode.INVALID_CONFIG,
            hint=exc.hint or hint,
        ) from None
    for m in metrics:
        if m.needs_reference:  # live answers have none: every score would be an error
            raise ArbiterError(
                f"ARBITER_ONLINE_METRICS: {m.name} needs a reference answer, which live "
                "answers do not have",
                code=ErrorCode.INVALID_CONFIG,
                hint=hint,
            )
    return metrics, rubric


def batch_jobs(
    settings: Settings, store: Store, prices: PriceTable, emit: Callable[[Record], None]
) -> BatchJobRunner:
    """The batch backends of eval runs, configured by the ARBITER_BATCH_* settings."""
    return BatchJobRunner(
        store,
        prices,
        emit,
        {
            "bedrock-batch": BedrockBatch(
                role_arn=settings.bedrock_batch_role_arn,
                min_records=settings.bedrock_batch_min_records,
                max_records=settings.bedrock_batch_max_records,
            ),
            "sagemaker-transform": SageMakerTransform(
                instance_type=settings.sagemaker_transform_instance_type,
                instance_count=settings.sagemaker_transform_instance_count,
                max_records=settings.sagemaker_transform_max_records,
            ),
        },
        s3_uri=settings.batch_s3_uri,
        poll_s=settings.batch_poll_s,
    )
