DROP TABLE bank_procedures;
DROP TABLE transfer_approvals;
ALTER TABLE transfers DROP COLUMN approvals_given;
ALTER TABLE transfers DROP COLUMN approvals_required;
ALTER TABLE users DROP COLUMN can_approve;
ALTER TABLE companies DROP COLUMN approvals_required;
ALTER TABLE companies DROP COLUMN approval_min_amount;
