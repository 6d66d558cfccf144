DROP TABLE login_failures;
DROP TABLE api_tokens;
DROP TABLE users;
DROP TABLE organizations;
