-- A store written by llmform at commit 0e0937c, before the audit chain was keyed: three
-- applies, the second with a non-ASCII label key, the third from a saved plan edited to
-- "plan_id": 5 (hashed as that number, stored as the text '5'). Made with that commit's CLI
-- (GITHUB_ACTOR=legacy-ci) and dumped with sqlite3's iterdump; tests load it with executescript.
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
INSERT INTO "audit_events" VALUES(1,'2026-11-28T05:04:06.793038+00:00','2abb09522db441dd963775df6b6405f6','ci:legacy-ci','0e0937c0e0937c0e0937c0e0937c0e0937c0e09','','apply-start','[]','started','0000000000000000000000000000000000000000000000000000000000000000','6ef5ff5158c5f46e1bbae33b984097bcc3a1d4a0b201dcf8eb941fe088286993');
INSERT INTO "audit_events" VALUES(2,'2026-11-28T05:04:06.793038+00:00','2abb09522db441dd963775df6b6405f6','ci:legacy-ci','0e0937c0e0937c0e0937c0e0937c0e0937c0e09','factory.Ollama','create','[]','ok','6ef5ff5158c5f46e1bbae33b984097bcc3a1d4a0b201dcf8eb941fe088286993','c288cf24df7b0805a2e27a7d29dc14d59c5dc7b3c4bbfd10700fcf99c8fdf6b0');
INSERT INTO "audit_events" VALUES(3,'2026-11-28T05:04:06.793038+00:00','2abb09522db441dd963775df6b6405f6','ci:legacy-ci','0e0937c0e0937c0e0937c0e0937c0e0937c0e09','workspace.prod','create','[]','ok','c288cf24df7b0805a2e27a7d29dc14d59c5dc7b3c4bbfd10700fcf99c8fdf6b0','9c412ce4faf0edfbd2c40c227ba2f479e2f8569fb834b3cdfa93126cf5c3efe5');
INSERT INTO "audit_events" VALUES(4,'2026-11-28T05:04:06.793038+00:00','2abb09522db441dd963775df6b6405f6','ci:legacy-ci','0e0937c0e0937c0e0937c0e0937c0e0937c0e09','config.prod/local','create','[]','ok','9c412ce4faf0edfbd2c40c227ba2f479e2f8569fb834b3cdfa93126cf5c3efe5','6a1f76863b52f1e1866950f4af2688c7a178e15acee8167f732a2fc2491e1d16');
INSERT INTO "audit_events" VALUES(5,'2026-11-28T05:04:06.793038+00:00','2abb09522db441dd963775df6b6405f6','ci:legacy-ci','0e0937c0e0937c0e0937c0e0937c0e0937c0e09','','apply-end','[]','ok: 3 change(s)','6a1f76863b52f1e1866950f4af2688c7a178e15acee8167f732a2fc2491e1d16','45d882974b3dff6f091d3b0675ad1f292e7daba714bf0591236498c8ce6de488');
INSERT INTO "audit_events" VALUES(6,'2026-11-28T05:04:07.082530+00:00','09ff5f92bf3946deaf03346a73b3d029','ci:legacy-ci','0e0937c0e0937c0e0937c0e0937c0e0937c0e09','','apply-start','[]','started','45d882974b3dff6f091d3b0675ad1f292e7daba714bf0591236498c8ce6de488','c1e384a85534f56d5d7b94f4673ae526981a1077eb355d4819d00ac6cc202d02');
INSERT INTO "audit_events" VALUES(7,'2026-11-28T05:04:07.082530+00:00','09ff5f92bf3946deaf03346a73b3d029','ci:legacy-ci','0e0937c0e0937c0e0937c0e0937c0e0937c0e09','workspace.prod','update','["labels.team","labels.\u00e9quipe"]','ok','c1e384a85534f56d5d7b94f4673ae526981a1077eb355d4819d00ac6cc202d02','0481f070f0125906f283ead219759c13ff1a85e7d8efcc389f8a3fe2944c0d8c');
INSERT INTO "audit_events" VALUES(8,'2026-11-28T05:04:07.082530+00:00','09ff5f92bf3946deaf03346a73b3d029','ci:legacy-ci','0e0937c0e0937c0e0937c0e0937c0e0937c0e09','','apply-end','[]','ok: 1 change(s)','0481f070f0125906f283ead219759c13ff1a85e7d8efcc389f8a3fe2944c0d8c','b32db0aa038f7d47537e6484bcc7d7be7b492e7cc5d6f4413acddf3b81314d12');
INSERT INTO "audit_events" VALUES(9,'2026-11-28T05:04:07.861364+00:00','5','ci:legacy-ci','0e0937c0e0937c0e0937c0e0937c0e0937c0e09','','apply-start','[]','started','b32db0aa038f7d47537e6484bcc7d7be7b492e7cc5d6f4413acddf3b81314d12','217c0d7e94a508f8c8b8942dc7a491bc4dfa492443c27a0341c34fa524625d7f');
INSERT INTO "audit_events" VALUES(10,'2026-11-28T05:04:07.861364+00:00','5','ci:legacy-ci','0e0937c0e0937c0e0937c0e0937c0e0937c0e09','workspace.prod','update','["labels.team"]','ok','217c0d7e94a508f8c8b8942dc7a491bc4dfa492443c27a0341c34fa524625d7f','3da22365b6bcccffeb76de68c53fe12e6bd3cd02fc9a956de863b33fe30c1ffa');
INSERT INTO "audit_events" VALUES(11,'2026-11-28T05:04:07.861364+00:00','5','ci:legacy-ci','0e0937c0e0937c0e0937c0e0937c0e0937c0e09','','apply-end','[]','ok: 1 change(s)','3da22365b6bcccffeb76de68c53fe12e6bd3cd02fc9a956de863b33fe30c1ffa','a89465821c93d2f0289c8a4a27fd8bed99f9269f2c9095c1fbb28ce7b2636f4f');
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
INSERT INTO "config_models" VALUES('prod','local','llama3.2','["chat"]',NULL,0,1,0);
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
INSERT INTO "configs" VALUES('prod','local','Ollama','http://127.0.0.1:9/',1,'','{}',1,0,'2026-11-28T05:04:06+00:00','2026-11-28T05:04:06+00:00');
CREATE TABLE factories (
        name TEXT PRIMARY KEY,
        type TEXT NOT NULL,
        api_base TEXT,
        tags TEXT NOT NULL DEFAULT '[]',
        managed INTEGER NOT NULL DEFAULT 0,
        created_at TEXT,
        updated_at TEXT
    );
INSERT INTO "factories" VALUES('Ollama','ollama','http://localhost:11434','["IMAGE2TEXT","LLM","TEXT EMBEDDING"]',1,'2026-11-28T05:04:06+00:00','2026-11-28T05:04:06+00:00');
CREATE TABLE factory_models (
        factory TEXT NOT NULL REFERENCES factories(name) ON DELETE CASCADE,
        name TEXT NOT NULL,
        types TEXT NOT NULL,
        max_tokens INTEGER,
        tools INTEGER NOT NULL DEFAULT 0,
        PRIMARY KEY (factory, name)
    );
INSERT INTO "factory_models" VALUES('Ollama','bge-m3','["embedding"]',8192,0);
INSERT INTO "factory_models" VALUES('Ollama','deepseek-r1','["chat"]',131072,0);
INSERT INTO "factory_models" VALUES('Ollama','gemma3','["chat","image2text"]',131072,0);
INSERT INTO "factory_models" VALUES('Ollama','gpt-oss','["chat"]',131072,1);
INSERT INTO "factory_models" VALUES('Ollama','llama3.1','["chat"]',131072,1);
INSERT INTO "factory_models" VALUES('Ollama','llama3.2','["chat"]',131072,1);
INSERT INTO "factory_models" VALUES('Ollama','llama3.3','["chat"]',131072,1);
INSERT INTO "factory_models" VALUES('Ollama','mistral','["chat"]',32768,1);
INSERT INTO "factory_models" VALUES('Ollama','mxbai-embed-large','["embedding"]',512,0);
INSERT INTO "factory_models" VALUES('Ollama','nomic-embed-text','["embedding"]',8192,0);
INSERT INTO "factory_models" VALUES('Ollama','qwen2.5','["chat"]',32768,1);
INSERT INTO "factory_models" VALUES('Ollama','qwen3','["chat"]',40960,1);
CREATE TABLE locks (
        name TEXT PRIMARY KEY,
        lock_id TEXT NOT NULL,
        holder TEXT NOT NULL,
        pid INTEGER NOT NULL,
        operation TEXT NOT NULL,
        created_at TEXT NOT NULL
    );
CREATE TABLE meta (key TEXT PRIMARY KEY, value TEXT);
INSERT INTO "meta" VALUES('lineage','67f23e2bcb4247e2adbd3696a634fa4b');
INSERT INTO "meta" VALUES('serial','3');
INSERT INTO "meta" VALUES('fingerprint_key','fef45772ab6764e5e04091095b44f39ff1f45a14e87aebe596c4f2140669557e');
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
INSERT INTO "workspaces" VALUES('prod','','{"team":"infra","\u00e9quipe":"plateforme"}','{}',1,'2026-11-28T05:04:06+00:00','2026-11-28T05:04:07+00:00');
CREATE INDEX audit_events_address ON audit_events(address);
COMMIT;
