-- The email queue as the admin shows it: one row per queued email (River jobs
-- of kind 'email'), with a plain status, its subject, recipients and last error.
CREATE VIEW manouche_email_queue AS
SELECT
    id,
    CASE
        WHEN state IN ('discarded', 'cancelled') THEN 'failed'
        WHEN state = 'completed' THEN 'sent'
        WHEN state = 'running' THEN 'sending'
        WHEN state = 'retryable' THEN 'retrying'
        ELSE 'pending'
    END AS status,
    COALESCE(json_extract(args, '$.message.subject'), '') AS subject,
    COALESCE((SELECT group_concat(value, ', ') FROM json_each(json_extract(args, '$.message.to'))), '') AS recipients,
    attempt,
    max_attempts,
    COALESCE(json_extract(errors, '$[#-1].error'), '') AS last_error,
    created_at,
    finalized_at
FROM river_job
WHERE kind = 'email'
