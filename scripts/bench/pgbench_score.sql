-- The score-sheet save path's SQL, statement for statement (`PUT /assignments/{id}/scores` by
-- the load-test reviewer, src/service/review/scoring.rs `save_scores`): the bearer-token lookup
-- of src/storage/tokens.rs `find_caller`, then in a transaction the reviewer's own assignment
-- read within the scope, its round and the assignment's row lock (pipelined), the update and its
-- audit event (pipelined). On the same open score sheets as the service's step.
-- -D review_apps=N
\set a random(1, least(:review_apps, 2000))
SELECT u.* FROM api_tokens k JOIN users u ON u.id = k.user_id
  WHERE k.digest = sha256(convert_to('gy_bench_r6', 'UTF8')) AND k.revoked_at IS NULL
    AND (k.expires_at IS NULL OR k.expires_at > now()) AND u.active LIMIT 1;
BEGIN;
SELECT * FROM assignments WHERE id = md5('bench-asg-' || :a || '-6')::uuid
  AND reviewer_id = md5('bench-reviewer-6')::uuid LIMIT 1;
\startpipeline
SELECT * FROM rounds WHERE id = md5('bench-round-reviewing')::uuid LIMIT 1;
SELECT * FROM assignments WHERE id = md5('bench-asg-' || :a || '-6')::uuid LIMIT 1 FOR UPDATE;
\endpipeline
\startpipeline
UPDATE assignments SET scores = '{"budget":"11.5","capacity":"12","need_analysis":"12","outcomes":"13","party_elements":"6","project_design":"16.5"}',
    judged_total = 71, comment = '压测评分', updated_at = now()
  WHERE id = md5('bench-asg-' || :a || '-6')::uuid RETURNING *;
INSERT INTO audit_events (actor_id, actor_role, action, entity_type, entity_id, before, after)
  VALUES (md5('bench-reviewer-6')::uuid, 'reviewer', 'assignment.scores_saved', 'assignment',
          md5('bench-asg-' || :a || '-6')::uuid,
          '{"budget":"11.5","capacity":"12","need_analysis":"12","outcomes":"13","party_elements":"6","project_design":"16.5"}',
          '{"budget":"11.5","capacity":"12","need_analysis":"12","outcomes":"13","party_elements":"6","project_design":"16.5"}');
\endpipeline
END;
