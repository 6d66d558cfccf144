-- The submit path's SQL, statement for statement (src/service/applications.rs `submit`, after
-- the bearer-token lookup of src/storage/tokens.rs `find_caller`), on the twin's own drafts.
-- -D twin_orgs=N -D orgs=M -D open_round=UUID
\set t random(1, :twin_orgs)
\set o :orgs + :t
SELECT u.* FROM api_tokens k JOIN users u ON u.id = k.user_id
  WHERE k.digest = sha256(convert_to('gy_bench_a' || :o, 'UTF8')) AND k.revoked_at IS NULL
    AND (k.expires_at IS NULL OR k.expires_at > now()) AND u.active LIMIT 1;
BEGIN;
SELECT * FROM applications WHERE id = md5('bench-twin-' || :t)::uuid
  AND organization_id = md5('bench-org-' || :o)::uuid LIMIT 1;
SELECT * FROM organizations WHERE id = md5('bench-org-' || :o)::uuid LIMIT 1 FOR UPDATE;
SELECT * FROM applications WHERE id = md5('bench-twin-' || :t)::uuid LIMIT 1 FOR UPDATE;
SELECT * FROM rounds WHERE id = :open_round LIMIT 1;
SELECT count(*) FROM applications WHERE organization_id = md5('bench-org-' || :o)::uuid
  AND round_id = :open_round AND id <> md5('bench-twin-' || :t)::uuid
  AND status IN ('submitted', 'under_review', 'approved', 'contracted', 'in_progress');
SELECT * FROM budget_lines WHERE application_id = md5('bench-twin-' || :t)::uuid ORDER BY position;
UPDATE applications SET status = 'submitted', submitted_at = now(), updated_at = now()
  WHERE id = md5('bench-twin-' || :t)::uuid RETURNING *;
INSERT INTO audit_events (actor_id, actor_role, action, entity_type, entity_id, before, after)
  VALUES (md5('bench-applicant-' || :o)::uuid, 'applicant', 'application.submitted', 'application',
          md5('bench-twin-' || :t)::uuid, '{"status":"draft"}', '{"status":"submitted"}');
SELECT email, name, language FROM users WHERE organization_id = md5('bench-org-' || :o)::uuid
  AND role = 'applicant' AND active ORDER BY created_at;
SELECT contact_email, contact_person, name FROM organizations
  WHERE id = md5('bench-org-' || :o)::uuid LIMIT 1;
INSERT INTO email_outbox (message_id, recipient, recipient_name, language, kind, subject, body_text, body_html)
  SELECT gen_random_uuid(), r.email, r.name, 'zh', 'application_received', '申报已受理：社区服务项目',
         repeat('您好，贵机构的申报已受理。', 40), repeat('<p>您好，贵机构的申报已受理。</p>', 40)
  FROM (VALUES ('applicant' || :o || '@bench.gongyi.cn', '申报人'),
               ('org' || :o || '@bench.gongyi.cn', '联系人')) r (email, name);
END;
