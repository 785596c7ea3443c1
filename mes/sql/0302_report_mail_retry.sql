-- Reports (issue 19): a scheduled report's mail is queued with the report (same INSERT), sent by the
-- schedule, and on failure tried again after reports.mail_retry_minutes until reports.mail_attempts,
-- then 'failed' (shown by the list), like alarm notices. A run killed before or while sending leaves
-- the mail pending (or leased), so the restarted run sends it.
ALTER TABLE stored_reports
    ADD COLUMN mail_status text CHECK (mail_status IN ('pending', 'sent', 'failed')),
    ADD COLUMN mail_attempts integer NOT NULL DEFAULT 0 CHECK (mail_attempts >= 0),
    ADD COLUMN mail_next_attempt_at timestamptz;
UPDATE stored_reports SET mail_status = CASE WHEN mailed_at IS NOT NULL THEN 'sent'
                                             WHEN mail_error IS NOT NULL THEN 'failed' END,
                          mail_attempts = CASE WHEN mailed_at IS NOT NULL OR mail_error IS NOT NULL THEN 1 ELSE 0 END;
CREATE INDEX stored_reports_mail_due ON stored_reports (mail_next_attempt_at) WHERE mail_status = 'pending';
