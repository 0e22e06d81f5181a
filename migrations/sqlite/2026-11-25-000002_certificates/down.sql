DROP TABLE person_certificates;
ALTER TABLE companies DROP COLUMN login_method;
