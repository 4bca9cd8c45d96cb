"""notices and search index

Revision ID: 7c1e5a2f9d01
Revises: 09a9c9b3dafd
Create Date: 2026-11-25 06:00:00.000000+00:00

"""
from typing import Sequence, Union

from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision: str = '7c1e5a2f9d01'
down_revision: Union[str, Sequence[str], None] = '09a9c9b3dafd'
branch_labels: Union[str, Sequence[str], None] = None
depends_on: Union[str, Sequence[str], None] = None

# The full-text side of search_documents, which the models do not describe (see service/core/search.py):
# SQLite: an FTS5 unicode61 table over the token columns, kept in step by triggers in the same transaction;
# PostgreSQL: the weighted tsvector of the token columns as a stored generated column, with a GIN index.
SQLITE_FTS = [
    "CREATE VIRTUAL TABLE search_documents_fts USING fts5(title_tokens, body_tokens, "
    "content='search_documents', content_rowid='id', tokenize='unicode61')",
    "CREATE TRIGGER search_documents_fts_insert AFTER INSERT ON search_documents BEGIN "
    "INSERT INTO search_documents_fts(rowid, title_tokens, body_tokens) "
    "VALUES (new.id, new.title_tokens, new.body_tokens); END",
    "CREATE TRIGGER search_documents_fts_delete AFTER DELETE ON search_documents BEGIN "
    "INSERT INTO search_documents_fts(search_documents_fts, rowid, title_tokens, body_tokens) "
    "VALUES ('delete', old.id, old.title_tokens, old.body_tokens); END",
    "CREATE TRIGGER search_documents_fts_update AFTER UPDATE ON search_documents BEGIN "
    "INSERT INTO search_documents_fts(search_documents_fts, rowid, title_tokens, body_tokens) "
    "VALUES ('delete', old.id, old.title_tokens, old.body_tokens); "
    "INSERT INTO search_documents_fts(rowid, title_tokens, body_tokens) "
    "VALUES (new.id, new.title_tokens, new.body_tokens); END",
]
POSTGRESQL_INDEX = [
    "ALTER TABLE search_documents ADD COLUMN search_vector tsvector GENERATED ALWAYS AS ("
    "setweight(to_tsvector('simple'::regconfig, coalesce(title_tokens, '')), 'A') || "
    "setweight(to_tsvector('simple'::regconfig, coalesce(body_tokens, '')), 'B')) STORED",
    "CREATE INDEX ix_search_documents_tsv ON search_documents USING gin (search_vector)",
]


def _index_published_consultations() -> None:
    """The public Q&A published so far goes into the index, as publishing does from now on."""
    from service.core.search import index_tokens

    bind = op.get_bind()
    rows = bind.execute(sa.text(
        "SELECT id, public_question, public_answer FROM consultations WHERE status = 'published'")).all()
    now = sa.func.now() if bind.dialect.name == "postgresql" else sa.func.current_timestamp()
    documents = sa.table("search_documents", sa.column("kind"), sa.column("object_id"),
                         sa.column("title_tokens"), sa.column("body_tokens"), sa.column("updated_at"))
    for consultation_id, question, answer in rows:
        bind.execute(documents.insert().values(
            kind="faq", object_id=consultation_id, title_tokens=" ".join(index_tokens(question)),
            body_tokens=" ".join(index_tokens(answer)), updated_at=now))


def upgrade() -> None:
    """Upgrade schema."""
    op.create_table('search_documents',
    sa.Column('id', sa.Integer(), autoincrement=True, nullable=False),
    sa.Column('kind', sa.String(length=16), nullable=False),
    sa.Column('object_id', sa.String(length=26), nullable=False),
    sa.Column('title_tokens', sa.Text(), nullable=False),
    sa.Column('body_tokens', sa.Text(), nullable=False),
    sa.Column('updated_at', sa.DateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_search_documents')),
    sa.UniqueConstraint('object_id', 'kind', name=op.f('uq_search_documents_object_id_kind'))
    )
    op.create_table('notices',
    sa.Column('title', sa.String(length=200), nullable=False),
    sa.Column('summary', sa.String(length=500), nullable=True),
    sa.Column('body', sa.Text(), nullable=False),
    sa.Column('category', sa.String(length=32), nullable=False),
    sa.Column('status', sa.String(length=16), nullable=False),
    sa.Column('attachments', sa.JSON(), nullable=False),
    sa.Column('department_id', sa.String(length=26), nullable=True),
    sa.Column('author_id', sa.String(length=26), nullable=False),
    sa.Column('contributors', sa.JSON(), nullable=False),
    sa.Column('submitted_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('reviewed_by', sa.String(length=26), nullable=True),
    sa.Column('reviewed_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('published_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('withdrawn_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('withdrawal_reason', sa.Text(), nullable=True),
    sa.Column('revision', sa.Integer(), nullable=False),
    sa.Column('revised_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('history', sa.JSON(), nullable=False),
    sa.Column('pending_revision', sa.JSON(), nullable=True),
    sa.Column('id', sa.String(length=26), nullable=False),
    sa.Column('version', sa.Integer(), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('updated_at', sa.DateTime(timezone=True), nullable=False),
    sa.CheckConstraint(sa.column('status').in_(('draft', 'in_review', 'scheduled', 'published', 'withdrawn')), name=op.f('ck_notices_known_status')),
    sa.CheckConstraint(sa.column('category').in_(('announcement', 'policy', 'interpretation', 'public_notice')), name=op.f('ck_notices_known_category')),
    sa.ForeignKeyConstraint(['author_id'], ['staff.id'], name=op.f('fk_notices_author_id_staff')),
    sa.ForeignKeyConstraint(['department_id'], ['departments.id'], name=op.f('fk_notices_department_id_departments')),
    sa.ForeignKeyConstraint(['reviewed_by'], ['staff.id'], name=op.f('fk_notices_reviewed_by_staff')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_notices'))
    )
    with op.batch_alter_table('notices', schema=None) as batch_op:
        batch_op.create_index('ix_notices_category_public', ['category', 'status', 'published_at'], unique=False)
        batch_op.create_index('ix_notices_public', ['status', 'published_at', 'id'], unique=False)

    op.create_table('notice_revisions',
    sa.Column('notice_id', sa.String(length=26), nullable=False),
    sa.Column('number', sa.Integer(), nullable=False),
    sa.Column('title', sa.String(length=200), nullable=False),
    sa.Column('summary', sa.String(length=500), nullable=True),
    sa.Column('body', sa.Text(), nullable=False),
    sa.Column('category', sa.String(length=32), nullable=False),
    sa.Column('attachments', sa.JSON(), nullable=False),
    sa.Column('edited_by', sa.String(length=26), nullable=False),
    sa.Column('edited_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('comment', sa.Text(), nullable=True),
    sa.Column('reviewed_by', sa.String(length=26), nullable=True),
    sa.Column('id', sa.String(length=26), nullable=False),
    sa.ForeignKeyConstraint(['edited_by'], ['staff.id'], name=op.f('fk_notice_revisions_edited_by_staff')),
    sa.ForeignKeyConstraint(['reviewed_by'], ['staff.id'], name=op.f('fk_notice_revisions_reviewed_by_staff')),
    sa.ForeignKeyConstraint(['notice_id'], ['notices.id'], name=op.f('fk_notice_revisions_notice_id_notices'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_notice_revisions')),
    sa.UniqueConstraint('notice_id', 'number', name=op.f('uq_notice_revisions_notice_id_number'))
    )

    if op.get_bind().dialect.name == 'postgresql':
        for statement in POSTGRESQL_INDEX:
            op.execute(statement)
    else:
        for statement in SQLITE_FTS:
            op.execute(statement)
    _index_published_consultations()


def downgrade() -> None:
    """Downgrade schema."""
    if op.get_bind().dialect.name == 'postgresql':
        op.execute("DROP INDEX IF EXISTS ix_search_documents_tsv")
        op.execute("ALTER TABLE search_documents DROP COLUMN IF EXISTS search_vector")
    else:
        for trigger in ("insert", "delete", "update"):
            op.execute(f"DROP TRIGGER IF EXISTS search_documents_fts_{trigger}")
        op.execute("DROP TABLE IF EXISTS search_documents_fts")
    op.drop_table('notice_revisions')
    with op.batch_alter_table('notices', schema=None) as batch_op:
        batch_op.drop_index('ix_notices_public')
        batch_op.drop_index('ix_notices_category_public')

    op.drop_table('notices')
    op.drop_table('search_documents')
