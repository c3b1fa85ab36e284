"""Settings of the generator and fine-tune workers: the shared ones plus what only the workers need."""

from __future__ import annotations

import re

from pydantic import Field, field_validator, model_validator

from infra.config import Settings


class WorkerSettings(Settings):
    """Frozen; env prefix ``INSITU_`` like every insitu process.

    >>> s = WorkerSettings(data_dir="/tmp/x", topic_prefix="t1.")
    >>> s.registry_location, s.generator_location
    ('/tmp/x/registry', '/tmp/x/generators')
    >>> s.group_id("generator")
    'insitu-generator-t1'
    """

    # -- where things live -----------------------------------------------------------------------
    generator_uri: str | None = Field(
        None,
        description="INSITU_GENERATOR_URI: where trained generators are kept between runs (path or fsspec URI "
        "prefix); default <data_dir>/generators.",
    )
    # -- compute ---------------------------------------------------------------------------------
    worker_device: str = Field(
        "auto", description="INSITU_WORKER_DEVICE: auto (cuda when present, else cpu), cpu, cuda or cuda:N."
    )
    worker_threads: int = Field(
        1,
        ge=1,
        description="INSITU_WORKER_THREADS: torch CPU threads of one worker (keep low beside the streams worker).",
    )
    worker_seed: int | None = Field(
        None,
        description="INSITU_WORKER_SEED: seed of every random draw of a worker (reproducible runs); unset: random.",
    )
    # -- the reservoir of real rows ----------------------------------------------------------------
    reservoir_size: int = Field(5000, ge=100, description="INSITU_RESERVOIR_SIZE: recent joined events kept per route.")
    catch_up_seconds: float = Field(
        30.0,
        gt=0,
        description="INSITU_CATCH_UP_SECONDS: longest wait for joined.events to be read to its end before a message "
        "is handled.",
    )
    validation_share: float = Field(
        0.2, gt=0, lt=0.5, description="INSITU_VALIDATION_SHARE: real rows held out for per-epoch validation."
    )
    gate_share: float = Field(
        0.2, gt=0, lt=0.5, description="INSITU_GATE_SHARE: real rows held out for the publication gate."
    )
    # -- the generator ----------------------------------------------------------------------------
    generator_min_rows: int = Field(
        200, ge=10, description="INSITU_GENERATOR_MIN_ROWS: real training rows of a route needed to train a generator."
    )
    generator_epochs: int = Field(
        80, ge=1, description="INSITU_GENERATOR_EPOCHS: epochs of a generator trained from scratch."
    )
    generator_warm_epochs: int = Field(
        15, ge=1, description="INSITU_GENERATOR_WARM_EPOCHS: epochs of a warm start on a changed reservoir."
    )
    generator_retrain_rows: int = Field(
        200,
        ge=1,
        description="INSITU_GENERATOR_RETRAIN_ROWS: new real rows since the last training that trigger a warm start.",
    )
    generator_latent: int = Field(8, ge=1, description="INSITU_GENERATOR_LATENT: latent dimensions of the VAE.")
    generator_hidden: int = Field(128, ge=8, description="INSITU_GENERATOR_HIDDEN: hidden units of the VAE.")
    generator_noise: float = Field(
        1.0,
        ge=0.0,
        description="INSITU_GENERATOR_NOISE: scale of the per-feature noise added when sampling "
        "(1 for tabular data; 0 for image-like inputs such as pixels, where it would wash out blur).",
    )
    generator_lr: float = Field(2e-3, gt=0, description="INSITU_GENERATOR_LR: learning rate of the VAE.")
    synthetic_rows: int = Field(
        1024, ge=10, description="INSITU_SYNTHETIC_ROWS: labelled rows aimed at per synthetic batch."
    )
    sample_budget: int = Field(
        20, ge=1, description="INSITU_SAMPLE_BUDGET: most rows sampled per wanted row before giving up on a slice."
    )
    min_acceptance: float = Field(
        0.1,
        ge=0,
        le=1,
        description="INSITU_MIN_ACCEPTANCE: below this share of prior samples inside a slice, sample around real "
        "in-slice rows instead (then project into the slice).",
    )
    neighbourhood_share: float = Field(
        0.3,
        ge=0,
        le=1,
        description="INSITU_NEIGHBOURHOOD_SHARE: share of a batch drawn around the instance's misclassified rows.",
    )
    control_share: float = Field(
        0.2,
        ge=0,
        le=1,
        description="INSITU_CONTROL_SHARE: share of a batch drawn at the control levels the profile names.",
    )
    neighbourhood_scale: float = Field(
        0.5, gt=0, description="INSITU_NEIGHBOURHOOD_SCALE: latent radius around a misclassified row, in posterior sd."
    )
    label_functions: dict[str, list[str]] = Field(
        default_factory=dict,
        description='INSITU_LABEL_FUNCTIONS: JSON object route -> list of "module:function" label functions.',
    )
    controls: dict[str, list[str]] = Field(
        default_factory=dict,
        description='INSITU_CONTROLS: JSON object route -> list of "module:function" control properties '
        "(row -> float, e.g. a blur level) the generator is conditioned on.",
    )
    teacher_confidence: float = Field(
        0.8, ge=0, le=1, description="INSITU_TEACHER_CONFIDENCE: least probability of a teacher's label."
    )
    teacher_min_accuracy: float = Field(
        0.85,
        ge=0,
        le=1,
        description="INSITU_TEACHER_MIN_ACCURACY: a peer teaches a slice when the lower confidence bound of its "
        "accuracy there reaches this.",
    )
    teacher_min_support: int = Field(
        20, ge=1, description="INSITU_TEACHER_MIN_SUPPORT: labelled rows of a peer in the slice before it may teach."
    )
    quality_max_auc: float = Field(
        0.9,
        gt=0.5,
        le=1,
        description="INSITU_QUALITY_MAX_AUC: a batch whose rows a discriminator tells from real slice rows better "
        "than this fails the quality guard.",
    )
    quality_max_range_violations: float = Field(
        0.05,
        ge=0,
        le=1,
        description="INSITU_QUALITY_MAX_RANGE_VIOLATIONS: most share of synthetic values outside the real slice "
        "rows' per-feature ranges.",
    )
    # -- fine-tuning --------------------------------------------------------------------------------
    finetune_epochs: int = Field(3, ge=1, le=3, description="INSITU_FINETUNE_EPOCHS: at most this many epochs (1-3).")
    finetune_lr: float = Field(1e-3, gt=0, description="INSITU_FINETUNE_LR: learning rate of fine-tuning (AdamW).")
    finetune_max_grad_norm: float | None = Field(
        1.0,
        gt=0,
        description="INSITU_FINETUNE_MAX_GRAD_NORM: clip each step's gradient norm to this (tames the large first "
        "gradients of a confidently wrong slice); unset: no clipping.",
    )
    finetune_batch_size: int = Field(32, ge=1, description="INSITU_FINETUNE_BATCH_SIZE: rows per optimiser step.")
    replay_ratio: float = Field(
        4.0, ge=0, description="INSITU_REPLAY_RATIO: replayed real rows per synthetic row in fine-tuning."
    )
    distill_weight: float = Field(
        6.0,
        ge=0,
        description="INSITU_DISTILL_WEIGHT: weight of the old version's probabilities as targets on replayed rows "
        "outside the weak slice (keeps the rest of the input space).",
    )
    anchor_weight: float = Field(
        6.0,
        ge=0,
        description="INSITU_ANCHOR_WEIGHT: weight of the old version's probabilities on anchors: synthetic rows "
        "moved just outside the slice (keeps the slice's boundary in place).",
    )
    gate_min_gain: float = Field(
        0.02,
        ge=0,
        description="INSITU_GATE_MIN_GAIN: the weak slice's accuracy must improve by at least this, with confidence.",
    )
    gate_confidence: float = Field(
        0.95, gt=0.5, lt=1, description="INSITU_GATE_CONFIDENCE: one-sided confidence of the slice improvement."
    )
    gate_tolerance: float = Field(
        0.01, ge=0, description="INSITU_GATE_TOLERANCE: most accuracy the complement of the slice may lose."
    )
    gate_max_flip_rate: float = Field(
        0.03,
        ge=0,
        le=1,
        description="INSITU_GATE_MAX_FLIP_RATE: most share of held-out rows the old version got right and the new "
        "one gets wrong.",
    )
    gate_min_slice_rows: int = Field(
        30, ge=1, description="INSITU_GATE_MIN_SLICE_ROWS: held-out real rows in the slice needed to judge it."
    )
    backoff_seconds: float = Field(
        300.0,
        ge=0,
        description="INSITU_BACKOFF_SECONDS: wait after a rejection before fine-tuning that instance again.",
    )
    backoff_max_seconds: float = Field(
        6 * 3600.0,
        ge=0,
        description="INSITU_BACKOFF_MAX_SECONDS: the wait doubles with each consecutive rejection up to this.",
    )
    # -- Kafka -------------------------------------------------------------------------------------
    generator_group_id: str | None = Field(
        None, description="INSITU_GENERATOR_GROUP_ID: consumer group; default insitu-generator plus the topic prefix."
    )
    finetune_group_id: str | None = Field(
        None, description="INSITU_FINETUNE_GROUP_ID: consumer group; default insitu-finetune plus the topic prefix."
    )

    @field_validator("label_functions", "controls")
    @classmethod
    def _import_paths(cls, value: dict[str, list[str]]) -> dict[str, list[str]]:
        for route, paths in value.items():
            for path in paths:
                if not re.fullmatch(r"[\w.]+:[\w.]+", path):
                    msg = f"route {route!r}: {path!r} is not a 'module:attribute' import path"
                    raise ValueError(msg)
        return value

    @model_validator(mode="after")
    def _shares(self) -> WorkerSettings:
        if self.neighbourhood_share + self.control_share > 1:
            msg = "INSITU_NEIGHBOURHOOD_SHARE + INSITU_CONTROL_SHARE must not exceed 1"
            raise ValueError(msg)
        return self

    @property
    def generator_location(self) -> str:
        """INSITU_GENERATOR_URI, else ``<data_dir>/generators``."""
        return self.generator_uri or str(self.data_dir / "generators")

    def group_id(self, worker: str) -> str:
        """The consumer group of ``worker`` (generator or finetune): the setting, else one per topic prefix."""
        configured = {"generator": self.generator_group_id, "finetune": self.finetune_group_id}.get(worker)
        if configured:
            return configured
        return self.group(worker)


def worker_settings(settings: Settings, **overrides: object) -> WorkerSettings:
    """``WorkerSettings`` with the shared fields of ``settings`` and the worker fields from the environment."""
    shared = {name: getattr(settings, name) for name in Settings.model_fields}
    return WorkerSettings(**{**shared, **overrides})
