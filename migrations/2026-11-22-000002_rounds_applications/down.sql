DROP TABLE audit_events;
DROP TABLE budget_lines;
DROP TABLE applications;
DROP TABLE rounds;
