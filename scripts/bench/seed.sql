-- Bench data set, inserted with plain SQL (generate_series) on top of `gongyi seed-demo`.
-- Variables (psql -v): orgs (organizations, each with one applicant and 3 drafts in the open
-- round), review_apps (applications under review in a reviewing round, 5 submitted score
-- sheets each), twin_orgs (organizations with one draft each, used only by the pgbench twin).
-- Ids are md5-derived UUIDs so the pgbench scripts can name rows without a lookup table.
\set ON_ERROR_STOP on
BEGIN;

SELECT id AS admin_id, password_hash AS pw FROM users WHERE email = 'admin@demo.gongyi' \gset
SELECT id AS open_round FROM rounds WHERE status = 'open' ORDER BY created_at LIMIT 1 \gset

-- Organizations: the bench set plus the pgbench twin's own set.
INSERT INTO organizations (id, name, org_type, registration_date, district, contact_person,
    contact_phone, contact_email, rating, rating_valid_until, party_building_status,
    party_member_count, party_assessment)
SELECT md5('bench-org-' || n)::uuid, '压测社会组织 ' || n, 'social_group', DATE '2015-01-01',
       '昆山市玉山镇', '联系人' || n, '0512-5555' || lpad(n::text, 4, '0'),
       'org' || n || '@bench.gongyi.cn', '4A', DATE '2030-12-31', 'independent_branch', 5, 'passed'
FROM generate_series(1, :orgs + :twin_orgs) n;

-- One applicant per organization (password as the demo admin's; tokens below).
INSERT INTO users (id, email, name, role, organization_id, password_hash)
SELECT md5('bench-applicant-' || n)::uuid, 'applicant' || n || '@bench.gongyi.cn', '申报人' || n,
       'applicant', md5('bench-org-' || n)::uuid, :'pw'
FROM generate_series(1, :orgs + :twin_orgs) n;

-- API tokens: plaintext gy_bench_a<n>, stored as its SHA-256 digest like any token.
INSERT INTO api_tokens (id, user_id, kind, name, digest)
SELECT md5('bench-token-' || n)::uuid, md5('bench-applicant-' || n)::uuid, 'api', 'bench',
       sha256(convert_to('gy_bench_a' || n, 'UTF8'))
FROM generate_series(1, :orgs + :twin_orgs) n;

-- Drafts in the open round: 3 per organization (the round's quota), consistent budgets:
-- personnel 60,000 + activities 60,000 from the grant, materials 30,000 self-funded.
-- Draft d belongs to organization ((d - 1) % orgs) + 1, so consecutive drafts are different orgs.
INSERT INTO applications (id, round_id, organization_id, status, title, focus_area, summary,
    beneficiaries, beneficiary_count, start_date, end_date, requested_grant, co_funding,
    party_activity_count, red_project, budget_total, budget_personnel, budget_grant, budget_self,
    created_by, created_at, updated_at)
SELECT md5('bench-draft-' || d)::uuid, :'open_round', md5('bench-org-' || o)::uuid, 'draft',
       '社区服务项目 ' || d, 'elderly', '压测数据：社区为老服务', '社区居民', 200,
       DATE '2027-01-01', DATE '2027-12-31', 120000, 30000, 2, false, 150000, 60000, 120000, 30000,
       md5('bench-applicant-' || o)::uuid, now() - make_interval(secs => d), now()
FROM (SELECT d, ((d - 1) % :orgs) + 1 AS o FROM generate_series(1, 3 * :orgs) d) s;

-- The pgbench twin's drafts: one per twin organization.
INSERT INTO applications (id, round_id, organization_id, status, title, focus_area,
    start_date, end_date, requested_grant, co_funding, budget_total, budget_personnel,
    budget_grant, budget_self, created_by, created_at)
SELECT md5('bench-twin-' || t)::uuid, :'open_round', md5('bench-org-' || (:orgs + t))::uuid, 'draft',
       '孪生项目 ' || t, 'elderly', DATE '2027-01-01', DATE '2027-12-31', 120000, 30000,
       150000, 60000, 120000, 30000, md5('bench-applicant-' || (:orgs + t))::uuid,
       now() - make_interval(secs => t)
FROM generate_series(1, :twin_orgs) t;

-- A reviewing round like the open one.
INSERT INTO rounds (id, name, year, kind, status, total_pool, grant_min, grant_max, opens_at,
    closes_at, project_start, project_end, focus_areas, rules, rubric, party_points,
    tranche_schedule, created_by)
SELECT md5('bench-round-reviewing')::uuid, '压测评审轮次', year, kind, 'reviewing', 500000000,
       grant_min, grant_max, now() - interval '120 days', now() - interval '30 days',
       project_start, project_end, focus_areas, rules, rubric, party_points, tranche_schedule,
       created_by
FROM rounds WHERE id = :'open_round';

INSERT INTO applications (id, round_id, organization_id, status, title, focus_area, summary,
    beneficiaries, beneficiary_count, start_date, end_date, requested_grant, co_funding,
    party_activity_count, red_project, budget_total, budget_personnel, budget_grant, budget_self,
    submitted_at, created_by, created_at, updated_at)
SELECT md5('bench-rev-' || a)::uuid, md5('bench-round-reviewing')::uuid,
       md5('bench-org-' || o)::uuid, 'under_review', '评审项目 ' || a,
       (ARRAY['elderly', 'children', 'women', 'disabled', 'waste_sorting'])[1 + a % 5],
       '压测数据', '社区居民', 100 + a % 500, DATE '2027-01-01', DATE '2027-12-31',
       120000, 30000, a % 4, a % 3 = 0, 150000, 60000, 120000, 30000,
       now() - interval '60 days' + make_interval(secs => a),
       md5('bench-applicant-' || o)::uuid, now() - interval '90 days' + make_interval(secs => a), now()
FROM (SELECT a, ((a - 1) % :orgs) + 1 AS o FROM generate_series(1, :review_apps) a) s;

-- Budget lines of every bench application (drafts, twin drafts, applications under review).
INSERT INTO budget_lines (id, application_id, position, category, description, quantity,
    unit_cost, amount, funded_by)
SELECT md5(a.id::text || '-' || l.position)::uuid, a.id, l.position, l.category, l.description,
       1, l.amount, l.amount, l.funded_by
FROM applications a
CROSS JOIN (VALUES (1, 'personnel', '专职社工薪酬', 60000, 'grant'),
                   (2, 'activities', '活动开展', 60000, 'grant'),
                   (3, 'materials', '物资（自筹）', 30000, 'self'))
     AS l (position, category, description, amount, funded_by)
WHERE NOT EXISTS (SELECT 1 FROM budget_lines b WHERE b.application_id = a.id);

-- Reviewers: 1..5 score everything, 6 is the load-test reviewer with open score sheets.
INSERT INTO users (id, email, name, role, password_hash)
SELECT md5('bench-reviewer-' || r)::uuid, 'reviewer' || r || '@bench.gongyi.cn', '评审专家' || r,
       'reviewer', :'pw'
FROM generate_series(1, 6) r;
-- The load-test reviewer's API token (gy_bench_r6), for the score step and its pgbench twin.
INSERT INTO api_tokens (id, user_id, kind, name, digest)
VALUES (md5('bench-token-r6')::uuid, md5('bench-reviewer-6')::uuid, 'api', 'bench',
        sha256(convert_to('gy_bench_r6', 'UTF8')));
INSERT INTO panel_members (round_id, reviewer_id, added_by)
SELECT md5('bench-round-reviewing')::uuid, md5('bench-reviewer-' || r)::uuid, :'admin_id'
FROM generate_series(1, 6) r;

-- Five submitted score sheets per application, scores as the service writes them
-- (criterion key -> normalized decimal string), on the rubric's 0.5 steps within each max;
-- party_elements holds only the judged part (at most 20 - 10 objective points).
INSERT INTO assignments (id, round_id, application_id, reviewer_id, status, scores, judged_total,
    assigned_by, submitted_at)
SELECT md5('bench-asg-' || a || '-' || r)::uuid, md5('bench-round-reviewing')::uuid,
       md5('bench-rev-' || a)::uuid, md5('bench-reviewer-' || r)::uuid, 'submitted',
       jsonb_build_object('need_analysis', trim_scale(s1)::text, 'project_design', trim_scale(s2)::text,
                          'capacity', trim_scale(s3)::text, 'budget', trim_scale(s4)::text,
                          'outcomes', trim_scale(s5)::text, 'party_elements', trim_scale(s6)::text)::json,
       s1 + s2 + s3 + s4 + s5 + s6, :'admin_id', now() - interval '10 days'
FROM (SELECT a, r,
             (abs(hashtext(a || '-' || r || 'a')) % 31) * 0.5 AS s1,
             (abs(hashtext(a || '-' || r || 'b')) % 41) * 0.5 AS s2,
             (abs(hashtext(a || '-' || r || 'c')) % 31) * 0.5 AS s3,
             (abs(hashtext(a || '-' || r || 'd')) % 31) * 0.5 AS s4,
             (abs(hashtext(a || '-' || r || 'e')) % 31) * 0.5 AS s5,
             (abs(hashtext(a || '-' || r || 'f')) % 21) * 0.5 AS s6
      FROM generate_series(1, :review_apps) a, generate_series(1, 5) r) s;

-- Open score sheets of the load-test reviewer (saved repeatedly by the score benchmark).
INSERT INTO assignments (id, round_id, application_id, reviewer_id, assigned_by)
SELECT md5('bench-asg-' || a || '-6')::uuid, md5('bench-round-reviewing')::uuid,
       md5('bench-rev-' || a)::uuid, md5('bench-reviewer-6')::uuid, :'admin_id'
FROM generate_series(1, least(:review_apps, 2000)) a;

COMMIT;
ANALYZE;
