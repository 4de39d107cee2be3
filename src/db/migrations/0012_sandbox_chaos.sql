-- Failure injection for sandbox channels (src/sandbox/chaos-*.ts, docs/sandbox.md): one document of
-- rules per workspace, replaced whole by PUT /sandbox/chaos. Read through a per-process cache, so a
-- send does not query it.
create table sandbox_chaos (
  workspace_id uuid primary key references workspaces (id) on delete cascade,
  seed text not null,
  rules jsonb not null,
  updated_at timestamptz not null default now()
);
