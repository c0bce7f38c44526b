-- A registry as the release before per-resource digests wrote it (commit 37129b3, schema
-- version 3: policies, protection, a keyed audit chain): `llmform apply --auto-approve
-- --no-validate-keys` of test_store_previous_release.py's STATE with an advisory policy (see
-- V3_STATE there), LLMFORM_OLD_KEY=sk-old-release, LLMFORM_OLD_BACKUP=sk-old-backup,
-- GITHUB_ACTOR=previous-release and LLMFORM_AUDIT_KEY=previous-release-audit-key-0123456789abcdef,
-- dumped with iterdump.
BEGIN TRANSACTION;
CREATE TABLE audit_events (
        seq INTEGER PRIMARY KEY,
        time TEXT NOT NULL,
        run_id TEXT NOT NULL,
        actor TEXT NOT NULL,
        git_commit TEXT,
        address TEXT NOT NULL,
        action TEXT NOT NULL,
        fields TEXT NOT NULL,
        result TEXT NOT NULL,
        prev_hash TEXT NOT NULL,
        hash TEXT NOT NULL
    );
INSERT INTO "audit_events" VALUES(1,'2026-11-28T13:46:59.925427+00:00','be389ddb785e4b428a77374721853fb6','ci:previous-release',NULL,'','apply-start','[]','started','0000000000000000000000000000000000000000000000000000000000000000','hmac-sha256:b0aed03352aa:5e5066b2e29088625064462091215814204e2ea3ecddc987e488e2bd91f80580');
INSERT INTO "audit_events" VALUES(2,'2026-11-28T13:46:59.925427+00:00','be389ddb785e4b428a77374721853fb6','ci:previous-release',NULL,'factory.Acme','create','[]','ok','hmac-sha256:b0aed03352aa:5e5066b2e29088625064462091215814204e2ea3ecddc987e488e2bd91f80580','hmac-sha256:b0aed03352aa:473fb8a78bb708af4552b3320b66cd6a1b2504517b26271c472381f4304b77f7');
INSERT INTO "audit_events" VALUES(3,'2026-11-28T13:46:59.925427+00:00','be389ddb785e4b428a77374721853fb6','ci:previous-release',NULL,'workspace.prod','create','[]','ok','hmac-sha256:b0aed03352aa:473fb8a78bb708af4552b3320b66cd6a1b2504517b26271c472381f4304b77f7','hmac-sha256:b0aed03352aa:dc565a6ef421183ed92cc96f68ca626bab8edf1b16534d74967df824498bfe29');
INSERT INTO "audit_events" VALUES(4,'2026-11-28T13:46:59.925427+00:00','be389ddb785e4b428a77374721853fb6','ci:previous-release',NULL,'workspace.staging','create','[]','ok','hmac-sha256:b0aed03352aa:dc565a6ef421183ed92cc96f68ca626bab8edf1b16534d74967df824498bfe29','hmac-sha256:b0aed03352aa:6dd239bc22240441fb10a4380079f5ee18506240da93271df4d7e461eda9f7f0');
INSERT INTO "audit_events" VALUES(5,'2026-11-28T13:46:59.925427+00:00','be389ddb785e4b428a77374721853fb6','ci:previous-release',NULL,'config.prod/main','create','[]','ok','hmac-sha256:b0aed03352aa:6dd239bc22240441fb10a4380079f5ee18506240da93271df4d7e461eda9f7f0','hmac-sha256:b0aed03352aa:37d37a01328a54b40a38b50b20cf2a3ebcc4dfddfafdb54705a85e365e1299d2');
INSERT INTO "audit_events" VALUES(6,'2026-11-28T13:46:59.925427+00:00','be389ddb785e4b428a77374721853fb6','ci:previous-release',NULL,'config.staging/dev','create','[]','ok','hmac-sha256:b0aed03352aa:37d37a01328a54b40a38b50b20cf2a3ebcc4dfddfafdb54705a85e365e1299d2','hmac-sha256:b0aed03352aa:e9b25c302b16b96277b904ba0a69f19155a5415970aabe2b4d115356f4e927ff');
INSERT INTO "audit_events" VALUES(7,'2026-11-28T13:46:59.925427+00:00','be389ddb785e4b428a77374721853fb6','ci:previous-release',NULL,'policy.described','create','[]','ok','hmac-sha256:b0aed03352aa:e9b25c302b16b96277b904ba0a69f19155a5415970aabe2b4d115356f4e927ff','hmac-sha256:b0aed03352aa:6cc7aabb016dccaf99953c781228403dc48853b1e00d6b65c079375c11a6a555');
INSERT INTO "audit_events" VALUES(8,'2026-11-28T13:46:59.925427+00:00','be389ddb785e4b428a77374721853fb6','ci:previous-release',NULL,'','apply-end','[]','ok: 6 change(s)','hmac-sha256:b0aed03352aa:6cc7aabb016dccaf99953c781228403dc48853b1e00d6b65c079375c11a6a555','hmac-sha256:b0aed03352aa:26aa3ffcb2014baba801d4ab169d4fee9c5e7f4d1d1dadd545c76d1b4714df1f');
CREATE TABLE config_models (
        workspace TEXT NOT NULL,
        config TEXT NOT NULL,
        name TEXT NOT NULL,
        types TEXT,  -- custom models only; a catalog model's details are in factory_models
        max_tokens INTEGER,
        tools INTEGER NOT NULL DEFAULT 0,
        custom INTEGER NOT NULL DEFAULT 0,
        used_tokens INTEGER NOT NULL DEFAULT 0,
        PRIMARY KEY (workspace, config, name),
        FOREIGN KEY (workspace, config) REFERENCES configs(workspace, name) ON DELETE CASCADE
    );
INSERT INTO "config_models" VALUES('prod','main','acme-chat',NULL,NULL,0,0,0);
INSERT INTO "config_models" VALUES('staging','dev','acme-chat',NULL,NULL,0,0,0);
CREATE TABLE config_secrets (
        workspace TEXT NOT NULL,
        config TEXT NOT NULL,
        slot TEXT NOT NULL,
        position INTEGER NOT NULL,
        ref TEXT NOT NULL,
        fingerprint TEXT,
        ciphertext TEXT,
        PRIMARY KEY (workspace, config, slot),
        FOREIGN KEY (workspace, config) REFERENCES configs(workspace, name) ON DELETE CASCADE
    );
INSERT INTO "config_secrets" VALUES('prod','main','api_key',0,'env:LLMFORM_OLD_KEY','hmac-sha256:00206ab69283e94a1bc812b3a61f0e6aeeef28ca2e3fdaa930102dafa983726b',NULL);
INSERT INTO "config_secrets" VALUES('prod','main','backup_keys[0]',1,'env:LLMFORM_OLD_BACKUP','hmac-sha256:702a0837939be810cc393c3424f2ffeddbcb72589bf1b89849277a257e74cb9c',NULL);
INSERT INTO "config_secrets" VALUES('staging','dev','api_key',0,'env:LLMFORM_OLD_KEY','hmac-sha256:00206ab69283e94a1bc812b3a61f0e6aeeef28ca2e3fdaa930102dafa983726b',NULL);
CREATE TABLE configs (
        workspace TEXT NOT NULL,
        name TEXT NOT NULL,
        factory TEXT NOT NULL,
        api_base TEXT,
        enabled INTEGER NOT NULL DEFAULT 1,
        description TEXT NOT NULL DEFAULT '',
        options TEXT NOT NULL DEFAULT '{}',
        managed INTEGER NOT NULL DEFAULT 0,
        used_tokens INTEGER NOT NULL DEFAULT 0,
        created_at TEXT,
        updated_at TEXT, protect INTEGER NOT NULL DEFAULT 0,
        PRIMARY KEY (workspace, name)
    );
INSERT INTO "configs" VALUES('prod','main','Acme','https://llm.acme.example/v1',1,'','{}',1,0,'2026-11-28T13:46:59+00:00','2026-11-28T13:46:59+00:00',1);
INSERT INTO "configs" VALUES('staging','dev','Acme','https://llm.acme.example/v1',1,'','{}',1,0,'2026-11-28T13:46:59+00:00','2026-11-28T13:46:59+00:00',0);
CREATE TABLE factories (
        name TEXT PRIMARY KEY,
        type TEXT NOT NULL,
        api_base TEXT,
        tags TEXT NOT NULL DEFAULT '[]',
        managed INTEGER NOT NULL DEFAULT 0,
        created_at TEXT,
        updated_at TEXT
    );
INSERT INTO "factories" VALUES('Acme','openai-compatible','https://llm.acme.example/v1','[]',1,'2026-11-28T13:46:59+00:00','2026-11-28T13:46:59+00:00');
CREATE TABLE factory_models (
        factory TEXT NOT NULL REFERENCES factories(name) ON DELETE CASCADE,
        name TEXT NOT NULL,
        types TEXT NOT NULL,
        max_tokens INTEGER,
        tools INTEGER NOT NULL DEFAULT 0,
        PRIMARY KEY (factory, name)
    );
INSERT INTO "factory_models" VALUES('Acme','acme-chat','["chat"]',NULL,0);
CREATE TABLE locks (
        name TEXT PRIMARY KEY,
        lock_id TEXT NOT NULL,
        holder TEXT NOT NULL,
        pid INTEGER NOT NULL,
        operation TEXT NOT NULL,
        created_at TEXT NOT NULL
    );
CREATE TABLE meta (key TEXT PRIMARY KEY, value TEXT);
INSERT INTO "meta" VALUES('lineage','01653f21c1c14984984539a01abab091');
INSERT INTO "meta" VALUES('serial','1');
INSERT INTO "meta" VALUES('fingerprint_key','8a2d815afb520febdb4d47b6ab6030ab07771313fcb2d756c8cd42a7156ec15b');
INSERT INTO "meta" VALUES('schema_version','3');
CREATE TABLE policies (
        name TEXT PRIMARY KEY,
        description TEXT NOT NULL DEFAULT '',
        applies_to TEXT NOT NULL,
        workspaces TEXT NOT NULL DEFAULT '[]',
        labels TEXT NOT NULL DEFAULT '{}',
        rule TEXT NOT NULL,
        message TEXT NOT NULL,
        level TEXT NOT NULL,
        managed INTEGER NOT NULL DEFAULT 0,
        created_at TEXT,
        updated_at TEXT
    );
INSERT INTO "policies" VALUES('described','','config','[]','{}','true','every config passes','advisory',1,'2026-11-28T13:46:59+00:00','2026-11-28T13:46:59+00:00');
CREATE TABLE workspaces (
        name TEXT PRIMARY KEY,
        description TEXT NOT NULL DEFAULT '',
        labels TEXT NOT NULL DEFAULT '{}',
        defaults TEXT NOT NULL DEFAULT '{}',
        managed INTEGER NOT NULL DEFAULT 0,
        created_at TEXT,
        updated_at TEXT
    , protect INTEGER NOT NULL DEFAULT 0);
INSERT INTO "workspaces" VALUES('prod','','{"team":"platform","tier":"gold"}','{"chat":"main/acme-chat"}',1,'2026-11-28T13:46:59+00:00','2026-11-28T13:46:59+00:00',1);
INSERT INTO "workspaces" VALUES('staging','','{}','{}',1,'2026-11-28T13:46:59+00:00','2026-11-28T13:46:59+00:00',0);
CREATE INDEX audit_events_address ON audit_events(address);
COMMIT;
