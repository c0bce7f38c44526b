-- A registry as the previous release (llmform 0.1.0, commit 0e0937c, schema version 1) wrote
-- it: `llmform apply --auto-approve --no-validate-keys` of OLD_STATE in test_store_upgrade.py with
-- LLMFORM_OLD_KEY=sk-old-release and GITHUB_ACTOR=old-release, dumped with sqlite3's iterdump.
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
INSERT INTO "audit_events" VALUES(1,'2026-11-28T05:06:28.626724+00:00','3e56c3b72f4c4354b730bb0d9aba2dd8','ci:old-release',NULL,'','apply-start','[]','started','0000000000000000000000000000000000000000000000000000000000000000','0180e15d26748e82b04e79cc8501d9592250ec8de385e5f1903ece2665d65f40');
INSERT INTO "audit_events" VALUES(2,'2026-11-28T05:06:28.626724+00:00','3e56c3b72f4c4354b730bb0d9aba2dd8','ci:old-release',NULL,'factory.Acme','create','[]','ok','0180e15d26748e82b04e79cc8501d9592250ec8de385e5f1903ece2665d65f40','898abdc0bb1a0ce455606d0adb8921fc64f29ac55f3cba98144840ec11de5306');
INSERT INTO "audit_events" VALUES(3,'2026-11-28T05:06:28.626724+00:00','3e56c3b72f4c4354b730bb0d9aba2dd8','ci:old-release',NULL,'workspace.prod','create','[]','ok','898abdc0bb1a0ce455606d0adb8921fc64f29ac55f3cba98144840ec11de5306','f691f591033ee4e90dd34421723de544a4befab5ec2d63cce298128d3b80cdde');
INSERT INTO "audit_events" VALUES(4,'2026-11-28T05:06:28.626724+00:00','3e56c3b72f4c4354b730bb0d9aba2dd8','ci:old-release',NULL,'workspace.staging','create','[]','ok','f691f591033ee4e90dd34421723de544a4befab5ec2d63cce298128d3b80cdde','4dd5c8da14c30ddcfb84568c508dd195a3b037ed420c5b24005b32120b1670e7');
INSERT INTO "audit_events" VALUES(5,'2026-11-28T05:06:28.626724+00:00','3e56c3b72f4c4354b730bb0d9aba2dd8','ci:old-release',NULL,'config.prod/main','create','[]','ok','4dd5c8da14c30ddcfb84568c508dd195a3b037ed420c5b24005b32120b1670e7','3b7b5ec1524530e20a3b1d1b42cd62f37c20a6c586b162801204c2216b78359e');
INSERT INTO "audit_events" VALUES(6,'2026-11-28T05:06:28.626724+00:00','3e56c3b72f4c4354b730bb0d9aba2dd8','ci:old-release',NULL,'config.staging/dev','create','[]','ok','3b7b5ec1524530e20a3b1d1b42cd62f37c20a6c586b162801204c2216b78359e','03123da628fa9c765bdf990dac98bab4b25aaf4a8823009d187e72444ff3151f');
INSERT INTO "audit_events" VALUES(7,'2026-11-28T05:06:28.626724+00:00','3e56c3b72f4c4354b730bb0d9aba2dd8','ci:old-release',NULL,'','apply-end','[]','ok: 5 change(s)','03123da628fa9c765bdf990dac98bab4b25aaf4a8823009d187e72444ff3151f','69feea855662c15434765dc4043269f028b1ace04ac5358f6ae7e2c3da2f37d5');
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
INSERT INTO "config_secrets" VALUES('prod','main','api_key',0,'env:LLMFORM_OLD_KEY','hmac-sha256:ae4a5c70445f4ad5450830ede55fb19cc570c28c54f75478d36c23e74f8d29bc',NULL);
INSERT INTO "config_secrets" VALUES('staging','dev','api_key',0,'env:LLMFORM_OLD_KEY','hmac-sha256:ae4a5c70445f4ad5450830ede55fb19cc570c28c54f75478d36c23e74f8d29bc',NULL);
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
        updated_at TEXT,
        PRIMARY KEY (workspace, name)
    );
INSERT INTO "configs" VALUES('prod','main','Acme','https://llm.acme.example/v1',1,'','{}',1,0,'2026-11-28T05:06:28+00:00','2026-11-28T05:06:28+00:00');
INSERT INTO "configs" VALUES('staging','dev','Acme','https://llm.acme.example/v1',1,'','{}',1,0,'2026-11-28T05:06:28+00:00','2026-11-28T05:06:28+00:00');
CREATE TABLE factories (
        name TEXT PRIMARY KEY,
        type TEXT NOT NULL,
        api_base TEXT,
        tags TEXT NOT NULL DEFAULT '[]',
        managed INTEGER NOT NULL DEFAULT 0,
        created_at TEXT,
        updated_at TEXT
    );
INSERT INTO "factories" VALUES('Acme','openai-compatible','https://llm.acme.example/v1','[]',1,'2026-11-28T05:06:28+00:00','2026-11-28T05:06:28+00:00');
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
INSERT INTO "meta" VALUES('lineage','77b42b8050f74bbe9c4776b81f80aaa9');
INSERT INTO "meta" VALUES('serial','1');
INSERT INTO "meta" VALUES('fingerprint_key','2dc1a3baeef0ebd8e13037fc21b24391a6e6e1634ccc284c8af4e2d80f5a47dd');
INSERT INTO "meta" VALUES('schema_version','1');
CREATE TABLE workspaces (
        name TEXT PRIMARY KEY,
        description TEXT NOT NULL DEFAULT '',
        labels TEXT NOT NULL DEFAULT '{}',
        defaults TEXT NOT NULL DEFAULT '{}',
        managed INTEGER NOT NULL DEFAULT 0,
        created_at TEXT,
        updated_at TEXT
    );
INSERT INTO "workspaces" VALUES('prod','','{"team":"platform"}','{}',1,'2026-11-28T05:06:28+00:00','2026-11-28T05:06:28+00:00');
INSERT INTO "workspaces" VALUES('staging','','{}','{}',1,'2026-11-28T05:06:28+00:00','2026-11-28T05:06:28+00:00');
CREATE INDEX audit_events_address ON audit_events(address);
COMMIT;
