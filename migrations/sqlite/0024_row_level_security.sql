-- Issue 15: PostgreSQL's 0024 puts the remaining tenant-owned table behind Row-Level Security
-- through one function. SQLite has no Row-Level Security: tenant-owned rows are reached only
-- through a tenant transaction (core/src/db.rs). This file keeps both folders numbered alike.
SELECT 1;
