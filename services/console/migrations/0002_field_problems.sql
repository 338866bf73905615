-- A form's problems left for the page it redirects to (post/redirect/get): form field -> sentence,
-- shown next to their fields once, like the notice.
ALTER TABLE sessions ADD COLUMN field_problems jsonb;
