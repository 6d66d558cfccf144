ALTER TABLE applications DROP COLUMN award_amount;
DROP TABLE award_objections;
DROP TABLE awards;
DROP TABLE award_decisions;
DROP TABLE assignments;
DROP TABLE panel_members;
