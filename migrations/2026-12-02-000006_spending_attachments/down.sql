DROP TABLE attachment_contents;
DROP TABLE attachments;
DROP TABLE budget_adjustments;
DROP TRIGGER expenditures_frozen ON expenditures;
DROP FUNCTION expenditures_frozen();
DROP TABLE expenditures;
DROP TABLE financial_reports;
