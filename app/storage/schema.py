"""Numbered schema migrations of both sides, applied in order at start."""

# The portal side: published forms and the waiting room of sealed submissions.
# Nothing here is readable without the receiver's private key, except ids,
# sizes, times and the names of form fields.
PORTAL = (
    """
    CREATE TABLE published_versions (
        tenant TEXT NOT NULL,
        slug TEXT NOT NULL,
        version INTEGER NOT NULL,
        definition TEXT NOT NULL,
        publish_from TEXT,
        publish_until TEXT,
        published_at TEXT NOT NULL,
        PRIMARY KEY (tenant, slug, version)
    );
    CREATE TABLE submissions (
        id TEXT PRIMARY KEY,
        tenant TEXT NOT NULL,
        form_slug TEXT NOT NULL,
        form_version INTEGER NOT NULL,
        receiver TEXT NOT NULL,
        receipt TEXT NOT NULL UNIQUE,
        received_at TEXT NOT NULL,
        sealed_key BLOB NOT NULL,
        sealed_values BLOB NOT NULL
    );
    CREATE INDEX submissions_by_receiver ON submissions (receiver, received_at);
    CREATE TABLE submission_files (
        submission_id TEXT NOT NULL REFERENCES submissions (id) ON DELETE CASCADE,
        file_id TEXT NOT NULL,
        field TEXT NOT NULL,
        sealed_size INTEGER NOT NULL,
        PRIMARY KEY (submission_id, file_id)
    );
    CREATE TABLE used_nonces (
        nonce TEXT PRIMARY KEY,
        receipt TEXT NOT NULL,
        received_at TEXT NOT NULL,
        expires_at TEXT NOT NULL
    );
    """,
    # MODWORK's API keys: only the SHA-256 of each key is kept.
    """
    CREATE TABLE api_keys (
        id INTEGER PRIMARY KEY,
        tenant TEXT NOT NULL,
        name TEXT NOT NULL,
        scopes TEXT NOT NULL,
        key_hash TEXT NOT NULL UNIQUE,
        created_at TEXT NOT NULL,
        revoked_at TEXT
    );
    CREATE UNIQUE INDEX api_keys_live_name ON api_keys (tenant, name)
        WHERE revoked_at IS NULL;
    """,
    # Secure links: only the token's hash, and values sealed under the token.
    """
    CREATE TABLE links (
        id TEXT PRIMARY KEY,
        tenant TEXT NOT NULL,
        form_slug TEXT NOT NULL,
        form_version INTEGER NOT NULL,
        token_hash TEXT NOT NULL,
        sealed_prefill BLOB,
        expires_at TEXT NOT NULL,
        revoked_at TEXT,
        used_at TEXT,
        receipt TEXT,
        check_failures INTEGER NOT NULL DEFAULT 0
    );
    CREATE TABLE link_events (
        seq INTEGER PRIMARY KEY AUTOINCREMENT,
        link_id TEXT NOT NULL,
        event TEXT NOT NULL,
        at TEXT NOT NULL
    );
    """,
    # Submissions a clerk sent from a form's preview, to try it out.
    """
    ALTER TABLE submissions ADD COLUMN test INTEGER NOT NULL DEFAULT 0;
    """,
    # Each tenant's current design as the back office published it, with
    # its logo as a PNG the back office encoded afresh.
    """
    CREATE TABLE published_designs (
        tenant TEXT PRIMARY KEY,
        version INTEGER NOT NULL,
        design TEXT NOT NULL,
        logo BLOB,
        published_at TEXT NOT NULL
    );
    """,
    # How far each tenant's MODWORK has taken the links' history by the
    # link.state webhook: the number of the last history row it answered 2xx.
    """
    CREATE TABLE link_webhook_progress (
        tenant TEXT PRIMARY KEY,
        delivered INTEGER NOT NULL
    );
    """,
)

# The built-in back office: MODWORK's stand-in.
BACKOFFICE = (
    """
    CREATE TABLE clerks (
        id INTEGER PRIMARY KEY,
        name TEXT NOT NULL UNIQUE,
        password_hash TEXT NOT NULL,
        tenants TEXT NOT NULL,
        created_at TEXT NOT NULL
    );
    CREATE TABLE sessions (
        token_hash TEXT PRIMARY KEY,
        clerk_id INTEGER NOT NULL REFERENCES clerks (id) ON DELETE CASCADE,
        created_at TEXT NOT NULL,
        expires_at TEXT NOT NULL
    );
    CREATE TABLE forms (
        id INTEGER PRIMARY KEY,
        tenant TEXT NOT NULL,
        slug TEXT NOT NULL,
        created_at TEXT NOT NULL,
        UNIQUE (tenant, slug)
    );
    CREATE TABLE form_versions (
        form_id INTEGER NOT NULL REFERENCES forms (id),
        version INTEGER NOT NULL,
        definition TEXT NOT NULL,
        created_by TEXT NOT NULL,
        created_at TEXT NOT NULL,
        PRIMARY KEY (form_id, version)
    );
    CREATE TABLE records (
        id INTEGER PRIMARY KEY,
        submission_id TEXT NOT NULL UNIQUE,
        tenant TEXT NOT NULL,
        record_type TEXT NOT NULL,
        form_slug TEXT NOT NULL,
        form_version INTEGER NOT NULL,
        form_title TEXT NOT NULL,
        receipt TEXT NOT NULL,
        received_at TEXT NOT NULL,
        taken_at TEXT NOT NULL,
        status TEXT NOT NULL DEFAULT 'new',
        field_values TEXT NOT NULL
    );
    CREATE INDEX records_by_receipt ON records (receipt);
    CREATE INDEX records_by_time ON records (tenant, received_at);
    CREATE TABLE attachments (
        id TEXT PRIMARY KEY,
        record_id INTEGER NOT NULL REFERENCES records (id) ON DELETE CASCADE,
        field TEXT NOT NULL,
        filename TEXT NOT NULL,
        content_type TEXT NOT NULL,
        size INTEGER NOT NULL
    );
    """,
    # Secure links, their mail, and revisions of records that came back.
    """
    CREATE TABLE links (
        id TEXT PRIMARY KEY,
        tenant TEXT NOT NULL,
        form_slug TEXT NOT NULL,
        form_version INTEGER NOT NULL,
        kind TEXT NOT NULL,
        record_id INTEGER REFERENCES records (id),
        recipient TEXT NOT NULL,
        prefill TEXT NOT NULL,
        state TEXT NOT NULL,
        failure TEXT,
        created_by TEXT NOT NULL,
        created_at TEXT NOT NULL,
        expires_at TEXT NOT NULL,
        changed_at TEXT NOT NULL,
        reminded_at TEXT
    );
    CREATE INDEX links_by_record ON links (record_id);
    CREATE TABLE link_history (
        link_id TEXT NOT NULL REFERENCES links (id) ON DELETE CASCADE,
        state TEXT NOT NULL,
        at TEXT NOT NULL
    );
    ALTER TABLE records ADD COLUMN link_id TEXT;
    CREATE TABLE revisions (
        id INTEGER PRIMARY KEY,
        record_id INTEGER NOT NULL REFERENCES records (id) ON DELETE CASCADE,
        submission_id TEXT NOT NULL UNIQUE,
        link_id TEXT NOT NULL,
        receipt TEXT NOT NULL,
        received_at TEXT NOT NULL,
        changes TEXT NOT NULL
    );
    CREATE TABLE outbox (
        id TEXT PRIMARY KEY,
        link_id TEXT,
        sealed_mail BLOB NOT NULL,
        attempts INTEGER NOT NULL DEFAULT 0,
        next_attempt_at TEXT NOT NULL,
        created_at TEXT NOT NULL,
        last_error TEXT
    );
    """,
    # Forms' lives: who saved each version and why, when each version is
    # online, deletion that can be undone, what happened when, and records
    # that came from trying a form out.
    """
    ALTER TABLE forms ADD COLUMN deleted_at TEXT;
    ALTER TABLE form_versions ADD COLUMN note TEXT NOT NULL DEFAULT '';
    CREATE TABLE form_publications (
        form_id INTEGER NOT NULL REFERENCES forms (id),
        version INTEGER NOT NULL,
        publish_from TEXT NOT NULL,
        publish_until TEXT,
        published_by TEXT NOT NULL,
        published_at TEXT NOT NULL,
        start_noted INTEGER NOT NULL DEFAULT 0,
        end_noted INTEGER NOT NULL DEFAULT 0,
        PRIMARY KEY (form_id, version)
    );
    CREATE TABLE form_events (
        id INTEGER PRIMARY KEY,
        form_id INTEGER NOT NULL REFERENCES forms (id),
        at TEXT NOT NULL,
        event TEXT NOT NULL,
        version INTEGER,
        clerk TEXT NOT NULL
    );
    CREATE INDEX form_events_by_form ON form_events (form_id, at);
    -- Before schedules, every saved version was published at once, so the
    -- newest version of each form is its publication.
    INSERT INTO form_publications
        SELECT form_id, version, created_at, NULL, created_by, created_at, 1, 0
        FROM form_versions AS v
        WHERE version = (SELECT max(version) FROM form_versions
                         WHERE form_id = v.form_id);
    ALTER TABLE records ADD COLUMN test INTEGER NOT NULL DEFAULT 0;
    """,
    # How many confirmations each address got today, under a keyed hash of
    # the address, and a record's note that its confirmation was not sent.
    """
    CREATE TABLE confirmation_counts (
        tenant TEXT NOT NULL,
        address_hash TEXT NOT NULL,
        day TEXT NOT NULL,
        sent INTEGER NOT NULL,
        PRIMARY KEY (tenant, address_hash, day)
    );
    ALTER TABLE records ADD COLUMN confirmation_note TEXT NOT NULL DEFAULT '';
    """,
    # Tenant designs: every save a numbered version with who, when and why;
    # the newest version is the one the portal shows.
    """
    CREATE TABLE design_versions (
        tenant TEXT NOT NULL,
        version INTEGER NOT NULL,
        design TEXT NOT NULL,
        logo BLOB,
        created_by TEXT NOT NULL,
        created_at TEXT NOT NULL,
        note TEXT NOT NULL DEFAULT '',
        PRIMARY KEY (tenant, version)
    );
    """,
    # A note the receiver leaves on a record it could not file as usual,
    # such as an answer to a query whose record is kept elsewhere.
    """
    ALTER TABLE records ADD COLUMN intake_note TEXT NOT NULL DEFAULT '';
    """,
    # A link's pre-fill may be cleared (NULL) once the link is over, MODWORK's
    # reference of its record is kept beside it, and a history step may carry
    # a note (a resend, a lock). SQLite cannot drop NOT NULL in place, so both
    # tables are built anew; the history is moved first so that dropping the
    # old links cascades into nothing.
    """
    CREATE TABLE links_new (
        id TEXT PRIMARY KEY,
        tenant TEXT NOT NULL,
        form_slug TEXT NOT NULL,
        form_version INTEGER NOT NULL,
        kind TEXT NOT NULL,
        record_id INTEGER REFERENCES records (id),
        recipient TEXT NOT NULL,
        prefill TEXT,
        state TEXT NOT NULL,
        failure TEXT,
        created_by TEXT NOT NULL,
        created_at TEXT NOT NULL,
        expires_at TEXT NOT NULL,
        changed_at TEXT NOT NULL,
        reminded_at TEXT,
        record_ref TEXT NOT NULL DEFAULT ''
    );
    INSERT INTO links_new SELECT *, coalesce(json_extract(prefill, '$.record_ref'), '')
        FROM links;
    CREATE TABLE link_history_new (
        link_id TEXT NOT NULL REFERENCES links_new (id) ON DELETE CASCADE,
        state TEXT NOT NULL,
        at TEXT NOT NULL,
        note TEXT NOT NULL DEFAULT ''
    );
    INSERT INTO link_history_new (rowid, link_id, state, at)
        SELECT rowid, link_id, state, at FROM link_history;
    DROP TABLE link_history;
    DROP TABLE links;
    ALTER TABLE links_new RENAME TO links;
    ALTER TABLE link_history_new RENAME TO link_history;
    CREATE INDEX links_by_record ON links (record_id);
    """,
)
