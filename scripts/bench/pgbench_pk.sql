-- The physical limit of an authenticated read: one primary-key select of an application.
-- -D review_apps=N
\set a random(1, :review_apps)
SELECT * FROM applications WHERE id = md5('bench-rev-' || :a)::uuid;
