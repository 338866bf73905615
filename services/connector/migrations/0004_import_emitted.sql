-- The organizations and persons an import of deals has emitted (each once per import), written with the
-- page's progress in one transaction and read only for the ids of the page at hand; a crashed import
-- resumes with them. They used to be lists in the run's progress, rewritten whole on every page. The rows
-- of a run are deleted when it ends.
CREATE TABLE import_emitted (
    tenant_id    text NOT NULL,
    run_id       text NOT NULL,
    object       text NOT NULL,
    pipedrive_id bigint NOT NULL,
    PRIMARY KEY (tenant_id, run_id, object, pipedrive_id)
);
