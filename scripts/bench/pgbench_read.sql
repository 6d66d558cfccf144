-- The read path's SQL, statement for statement (`GET /applications/{id}` by the owning
-- applicant): the bearer-token lookup of src/storage/tokens.rs `find_caller`, then the scoped
-- application read and its budget lines, pipelined as src/storage/applications.rs
-- `get_with_budget` sends them. -D review_apps=N -D orgs=M
\set a random(1, :review_apps)
\set o ((:a - 1) % :orgs) + 1
SELECT u.* FROM api_tokens k JOIN users u ON u.id = k.user_id
  WHERE k.digest = sha256(convert_to('gy_bench_a' || :o, 'UTF8')) AND k.revoked_at IS NULL
    AND (k.expires_at IS NULL OR k.expires_at > now()) AND u.active LIMIT 1;
\startpipeline
SELECT * FROM applications WHERE id = md5('bench-rev-' || :a)::uuid
  AND organization_id = md5('bench-org-' || :o)::uuid LIMIT 1;
SELECT * FROM budget_lines WHERE application_id = md5('bench-rev-' || :a)::uuid ORDER BY position;
\endpipeline
