-- Grows the applications table to :target rows (plain SQL, for the list-flatness step):
-- submitted applications of a closed archive round, spread over the past two years.
\set ON_ERROR_STOP on
SELECT count(*) AS have FROM applications \gset
SELECT id AS admin_id FROM users WHERE email = 'admin@demo.gongyi' \gset
INSERT INTO rounds (id, name, year, kind, status, total_pool, grant_min, grant_max, opens_at,
    closes_at, project_start, project_end, focus_areas, rules, rubric, party_points,
    tranche_schedule, created_by)
SELECT md5('bench-round-archive')::uuid, '压测归档轮次', 2025, kind, 'closed', 900000000,
       grant_min, grant_max, now() - interval '800 days', now() - interval '700 days',
       project_start, project_end, focus_areas, rules, rubric, party_points, tranche_schedule,
       created_by
FROM rounds WHERE id = md5('bench-round-reviewing')::uuid
ON CONFLICT (id) DO NOTHING;
INSERT INTO applications (id, round_id, organization_id, status, title, focus_area, summary,
    requested_grant, co_funding, budget_total, budget_personnel, budget_grant, budget_self,
    submitted_at, created_by, created_at, updated_at)
SELECT md5('bench-archive-' || :have || '-' || g)::uuid, md5('bench-round-archive')::uuid,
       md5('bench-org-' || o)::uuid, 'submitted', '归档项目 ' || g, 'elderly', '压测数据',
       120000, 30000, 150000, 60000, 120000, 30000,
       now() - interval '730 days' + make_interval(secs => g * 60),
       md5('bench-applicant-' || o)::uuid,
       now() - interval '730 days' + make_interval(secs => g * 60),
       now() - interval '730 days' + make_interval(secs => g * 60)
FROM (SELECT g, ((g - 1) % :orgs) + 1 AS o FROM generate_series(1, greatest(:target - :have, 0)) g) s;
ANALYZE applications;
