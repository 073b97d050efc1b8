"""tunings: fine-tuning jobs started from label exports, with their lineage

Revision ID: 0017
Revises: 0016
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0017"
down_revision: str | None = "0016"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "tunings",
        sa.Column("id", sa.String(36), primary_key=True),
        sa.Column("name", sa.String(63), nullable=False, unique=True),
        sa.Column("target", sa.String(16), nullable=False),
        sa.Column("method", sa.String(16), nullable=False),
        sa.Column("base_variant", sa.String(64), nullable=False),
        sa.Column("base_model", sa.String(256), nullable=False),
        sa.Column("state", sa.String(16), nullable=False, index=True),
        sa.Column("cloud_status", sa.String(32)),
        sa.Column("failure", sa.Text()),
        sa.Column("job_arn", sa.String(2048)),
        sa.Column("role_arn", sa.String(2048), nullable=False),
        sa.Column("output_uri", sa.String(1024), nullable=False),
        sa.Column("data_uris", sa.JSON(), nullable=False),
        sa.Column("export_options", sa.JSON(), nullable=False),
        sa.Column("dataset_sha256", sa.String(64), nullable=False),
        sa.Column("manifest", sa.JSON(), nullable=False),
        sa.Column("held_out_prompts", sa.JSON(), nullable=False),
        sa.Column("hyperparameters", sa.JSON(), nullable=False),
        sa.Column("metrics", sa.JSON(), nullable=False),
        sa.Column("custom_model_arn", sa.String(2048)),
        sa.Column("serving_arn", sa.String(2048)),
        sa.Column("serving", sa.JSON(), nullable=False),
        sa.Column("variant_name", sa.String(64), unique=True),
        sa.Column("use_case", sa.String(64)),
        sa.Column("raters_per_item", sa.Integer(), nullable=False),
        sa.Column("campaign_name", sa.String(128)),
        sa.Column("eval_run_ids", sa.JSON(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False, index=True),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
    )


def downgrade() -> None:
    op.drop_table("tunings")
