-- A registry as the release before the reshape of issue 10 wrote it (commit 80e29be, schema
-- version 2: deletion protection, a keyed audit chain): `llmform apply --auto-approve
-- --no-validate-keys` of test_store_previous_release.py's STATE (first without tier: gold) with
-- LLMFORM_OLD_KEY=sk-old-release, LLMFORM_OLD_BACKUP=sk-old-backup, GITHUB_ACTOR=previous-release
-- and LLMFORM_AUDIT_KEY=previous-release-audit-key-0123456789abcdef, dumped with iterdump.
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
INSERT INTO "audit_events" VALUES(1,'2026-11-28T08:21:01.779145+00:00','eed09c62a811455e9c6be9e2b6ecc86a','ci:previous-release',NULL,'','apply-start','[]','started','0000000000000000000000000000000000000000000000000000000000000000','hmac-sha256:b0aed03352aa:2db973ce52dd23b1cd31305999370bce8843c949e478cafcc49668248a018fd0');
INSERT INTO "audit_events" VALUES(2,'2026-11-28T08:21:01.779145+00:00','eed09c62a811455e9c6be9e2b6ecc86a','ci:previous-release',NULL,'factory.Acme','create','[]','ok','hmac-sha256:b0aed03352aa:2db973ce52dd23b1cd31305999370bce8843c949e478cafcc49668248a018fd0','hmac-sha256:b0aed03352aa:174bd171ca57b93e25950ea7584235ababec1ee6ab7578ecb5cbd8ecdc872433');
INSERT INTO "audit_events" VALUES(3,'2026-11-28T08:21:01.779145+00:00','eed09c62a811455e9c6be9e2b6ecc86a','ci:previous-release',NULL,'workspace.prod','create','[]','ok','hmac-sha256:b0aed03352aa:174bd171ca57b93e25950ea7584235ababec1ee6ab7578ecb5cbd8ecdc872433','hmac-sha256:b0aed03352aa:756ffa1b5f4e086eeacf488916902381c4c67aa2791f8a5529930616dda28e22');
INSERT INTO "audit_events" VALUES(4,'2026-11-28T08:21:01.779145+00:00','eed09c62a811455e9c6be9e2b6ecc86a','ci:previous-release',NULL,'workspace.staging','create','[]','ok','hmac-sha256:b0aed03352aa:756ffa1b5f4e086eeacf488916902381c4c67aa2791f8a5529930616dda28e22','hmac-sha256:b0aed03352aa:935bab7ac3fda3d56ef91ad339106ef08918c3ca9be839955e0692217b44500d');
INSERT INTO "audit_events" VALUES(5,'2026-11-28T08:21:01.779145+00:00','eed09c62a811455e9c6be9e2b6ecc86a','ci:previous-release',NULL,'config.prod/main','create','[]','ok','hmac-sha256:b0aed03352aa:935bab7ac3fda3d56ef91ad339106ef08918c3ca9be839955e0692217b44500d','hmac-sha256:b0aed03352aa:a41dd2ca2ceb148ab074bd4c21727ecd8c74c2a751d55c3bc8777759c6859f08');
INSERT INTO "audit_events" VALUES(6,'2026-11-28T08:21:01.779145+00:00','eed09c62a811455e9c6be9e2b6ecc86a','ci:previous-release',NULL,'config.staging/dev','create','[]','ok','hmac-sha256:b0aed03352aa:a41dd2ca2ceb148ab074bd4c21727ecd8c74c2a751d55c3bc8777759c6859f08','hmac-sha256:b0aed03352aa:69540809c7f0af4882ab5d5a7722420fd58ee12598461317de5fcabf8b910442');
INSERT INTO "audit_events" VALUES(7,'2026-11-28T08:21:01.779145+00:00','eed09c62a811455e9c6be9e2b6ecc86a','ci:previous-release',NULL,'','apply-end','[]','ok: 5 change(s)','hmac-sha256:b0aed03352aa:69540809c7f0af4882ab5d5a7722420fd58ee12598461317de5fcabf8b910442','hmac-sha256:b0aed03352aa:81de14037130f41f2b3f676fdb52c289989f6feec8713b7a1559a39258ae1fa8');
INSERT INTO "audit_events" VALUES(8,'2026-11-28T08:21:05.376018+00:00','175c10a7d79744d2bf8f3f0b25684272','ci:previous-release',NULL,'','apply-start','[]','started','hmac-sha256:b0aed03352aa:81de14037130f41f2b3f676fdb52c289989f6feec8713b7a1559a39258ae1fa8','hmac-sha256:b0aed03352aa:bcf5a659a68609875bbc41db1d642dfa483eca3772e6e543b5303eb9638fbffb');
INSERT INTO "audit_events" VALUES(9,'2026-11-28T08:21:05.376018+00:00','175c10a7d79744d2bf8f3f0b25684272','ci:previous-release',NULL,'workspace.prod','update','["labels.tier"]','ok','hmac-sha256:b0aed03352aa:bcf5a659a68609875bbc41db1d642dfa483eca3772e6e543b5303eb9638fbffb','hmac-sha256:b0aed03352aa:8ec3e710337a4da23ba896cb7da90e0407d7439025a81f224cb86bd7ea395e0a');
INSERT INTO "audit_events" VALUES(10,'2026-11-28T08:21:05.376018+00:00','175c10a7d79744d2bf8f3f0b25684272','ci:previous-release',NULL,'','apply-end','[]','ok: 1 change(s)','hmac-sha256:b0aed03352aa:8ec3e710337a4da23ba896cb7da90e0407d7439025a81f224cb86bd7ea395e0a','hmac-sha256:b0aed03352aa:e4f7b3c2f0d7485a41620da6af49202ab8da5eb05b13cfdaf3f07ee033c98970');
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
INSERT INTO "config_secrets" VALUES('prod','main','api_key',0,'env:LLMFORM_OLD_KEY','hmac-sha256:c148638de71d5f4af764820ea0c5ac52a0d71ba42175e68d5b2c4a203dd7ac75',NULL);
INSERT INTO "config_secrets" VALUES('prod','main','backup_keys[0]',1,'env:LLMFORM_OLD_BACKUP','hmac-sha256:17ba3bb23be5bb88b3d70ebc83e32560dd6babc9183c00077946c06a52ab9e98',NULL);
INSERT INTO "config_secrets" VALUES('staging','dev','api_key',0,'env:LLMFORM_OLD_KEY','hmac-sha256:c148638de71d5f4af764820ea0c5ac52a0d71ba42175e68d5b2c4a203dd7ac75',NULL);
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
INSERT INTO "configs" VALUES('prod','main','Acme','https://llm.acme.example/v1',1,'','{}',1,0,'2026-11-28T08:21:01+00:00','2026-11-28T08:21:01+00:00',1);
INSERT INTO "configs" VALUES('staging','dev','Acme','https://llm.acme.example/v1',1,'','{}',1,0,'2026-11-28T08:21:01+00:00','2026-11-28T08:21:01+00:00',0);
CREATE TABLE factories (
        name TEXT PRIMARY KEY,
        type TEXT NOT NULL,
        api_base TEXT,
        tags TEXT NOT NULL DEFAULT '[]',
        managed INTEGER NOT NULL DEFAULT 0,
        created_at TEXT,
        updated_at TEXT
    );
INSERT INTO "factories" VALUES('Acme','openai-compatible','https://llm.acme.example/v1','[]',1,'2026-11-28T08:21:01+00:00','2026-11-28T08:21:01+00:00');
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
INSERT INTO "meta" VALUES('lineage','6941c7e1b6fc45498b8f24495ab2092a');
INSERT INTO "meta" VALUES('serial','2');
INSERT INTO "meta" VALUES('fingerprint_key','93a5c87083381ae674feb727a85b5e4920392764161a733949a2fc5ecfbd842c');
INSERT INTO "meta" VALUES('schema_version','2');
CREATE TABLE workspaces (
        name TEXT PRIMARY KEY,
        description TEXT NOT NULL DEFAULT '',
        labels TEXT NOT NULL DEFAULT '{}',
        defaults TEXT NOT NULL DEFAULT '{}',
        managed INTEGER NOT NULL DEFAULT 0,
        created_at TEXT,
        updated_at TEXT
    , protect INTEGER NOT NULL DEFAULT 0);
INSERT INTO "workspaces" VALUES('prod','','{"team":"platform","tier":"gold"}','{"chat":"main/acme-chat"}',1,'2026-11-28T08:21:01+00:00','2026-11-28T08:21:05+00:00',1);
INSERT INTO "workspaces" VALUES('staging','','{}','{}',1,'2026-11-28T08:21:01+00:00','2026-11-28T08:21:01+00:00',0);
CREATE INDEX audit_events_address ON audit_events(address);
COMMIT;
