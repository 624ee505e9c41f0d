/*
 * SQLite schema, one string per numbered migration. Never edit a migration
 * that has shipped: add the next one. Times are RFC 3339 text (they sort as
 * strings), booleans are declared BOOLEAN and JSON columns JSONTEXT so the
 * driver hands them back typed.
 */
#include "store/migrations.h"

#include <stddef.h>

static const char m1_base[] =
    "CREATE TABLE organizations ("
    " id TEXT PRIMARY KEY,"
    " external_id TEXT UNIQUE,"
    " name TEXT NOT NULL,"
    " created_at TEXT NOT NULL);"

    "CREATE TABLE admin_users ("
    " id TEXT PRIMARY KEY,"
    " organization_id TEXT NOT NULL REFERENCES organizations(id),"
    " email TEXT NOT NULL UNIQUE,"
    " name TEXT NOT NULL,"
    " role TEXT NOT NULL CHECK (role IN"
    "  ('org_member', 'org_admin', 'super_admin')),"
    " password_hash TEXT,"
    " created_at TEXT NOT NULL,"
    " updated_at TEXT NOT NULL);"

    "CREATE TABLE api_tokens ("
    " id TEXT PRIMARY KEY,"
    " user_id TEXT NOT NULL REFERENCES admin_users(id),"
    " name TEXT NOT NULL,"
    " token_hash TEXT NOT NULL UNIQUE,"
    " created_at TEXT NOT NULL,"
    " last_used_at TEXT,"
    " revoked_at TEXT);"
    "CREATE INDEX api_tokens_user ON api_tokens(user_id);"

    "CREATE TABLE sessions ("
    " id TEXT PRIMARY KEY,"
    " user_id TEXT NOT NULL REFERENCES admin_users(id),"
    " token_hash TEXT NOT NULL UNIQUE,"
    " csrf_token TEXT NOT NULL,"
    " created_at TEXT NOT NULL,"
    " expires_at TEXT NOT NULL);"

    "CREATE TABLE locations ("
    " id TEXT PRIMARY KEY,"
    " organization_id TEXT NOT NULL REFERENCES organizations(id),"
    " name TEXT NOT NULL,"
    " timezone TEXT NOT NULL,"
    " created_at TEXT NOT NULL);"
    "CREATE INDEX locations_org ON locations(organization_id, id);"

    "CREATE TABLE server_nodes ("
    " id TEXT PRIMARY KEY,"
    " location_id TEXT NOT NULL REFERENCES locations(id),"
    " name TEXT NOT NULL,"
    " status TEXT NOT NULL CHECK (status IN ('ACTIVE', 'DECOMMISSIONED')),"
    " current_version TEXT,"
    " target_version TEXT,"
    " schema_version INTEGER,"
    " last_seen_at TEXT,"
    " online BOOLEAN NOT NULL DEFAULT 0,"
    " token_hash TEXT NOT NULL UNIQUE,"
    " created_at TEXT NOT NULL,"
    " decommissioned_at TEXT);"
    "CREATE UNIQUE INDEX server_nodes_one_active ON server_nodes(location_id)"
    " WHERE status = 'ACTIVE';"

    "CREATE TABLE releases ("
    " id TEXT PRIMARY KEY,"
    " version TEXT NOT NULL UNIQUE,"
    " version_key TEXT NOT NULL UNIQUE,"
    " channel TEXT NOT NULL CHECK (channel IN ('STABLE', 'BETA')),"
    " image_tag TEXT NOT NULL,"
    " image_digest TEXT,"
    " release_notes TEXT NOT NULL DEFAULT '',"
    " min_schema_version INTEGER,"
    " rollback_version TEXT,"
    " is_latest BOOLEAN NOT NULL DEFAULT 0,"
    " is_archived BOOLEAN NOT NULL DEFAULT 0,"
    " created_by_id TEXT NOT NULL REFERENCES admin_users(id),"
    " created_at TEXT NOT NULL,"
    " updated_at TEXT NOT NULL,"
    " archived_at TEXT);"

    "CREATE TABLE fleet_commands ("
    " seq INTEGER PRIMARY KEY AUTOINCREMENT,"
    " id TEXT NOT NULL UNIQUE,"
    " server_node_id TEXT NOT NULL REFERENCES server_nodes(id),"
    " type TEXT NOT NULL,"
    " release_id TEXT REFERENCES releases(id),"
    " payload JSONTEXT NOT NULL,"
    " signature TEXT NOT NULL,"
    " status TEXT NOT NULL,"
    " created_by_id TEXT REFERENCES admin_users(id),"
    " created_at TEXT NOT NULL,"
    " expires_at TEXT NOT NULL,"
    " delivered_at TEXT,"
    " acknowledged_at TEXT,"
    " started_at TEXT,"
    " finished_at TEXT,"
    " updated_at TEXT NOT NULL,"
    " message TEXT);"
    "CREATE INDEX fleet_commands_node ON fleet_commands(server_node_id, seq);"
    "CREATE INDEX fleet_commands_release ON fleet_commands(release_id, seq);"
    "CREATE INDEX fleet_commands_status ON fleet_commands(status);"

    "CREATE TABLE audit_entries ("
    " id TEXT PRIMARY KEY,"
    " organization_id TEXT NOT NULL REFERENCES organizations(id),"
    " admin_user_id TEXT REFERENCES admin_users(id),"
    " action TEXT NOT NULL,"
    " target_type TEXT NOT NULL,"
    " target_id TEXT,"
    " details JSONTEXT NOT NULL,"
    " created_at TEXT NOT NULL);"
    "CREATE INDEX audit_entries_org ON audit_entries(organization_id, id);"

    "CREATE TABLE idempotency_keys ("
    " user_id TEXT NOT NULL REFERENCES admin_users(id),"
    " key TEXT NOT NULL,"
    " route TEXT NOT NULL,"
    " request_hash TEXT NOT NULL,"
    " status INTEGER NOT NULL,"
    " response JSONTEXT NOT NULL,"
    " created_at TEXT NOT NULL,"
    " PRIMARY KEY (user_id, key));";

/* Several mcd may share one database: which instance holds a node's
 * stream, and which instances are alive. */
static const char m2_instances[] =
    "CREATE TABLE instances ("
    " id TEXT PRIMARY KEY,"
    " started_at TEXT NOT NULL,"
    " heartbeat_at TEXT NOT NULL);"
    "ALTER TABLE server_nodes ADD COLUMN online_instance TEXT;";

/* Large deploys: only open commands are indexed by node and status, and
 * each release's deploy count per organization is kept, not counted. */
static const char m3_deploy_scale[] =
    "DROP INDEX fleet_commands_status;"
    "CREATE INDEX fleet_commands_open ON fleet_commands(server_node_id, seq)"
    " WHERE status IN ('PENDING', 'DELIVERED');"
    "CREATE INDEX fleet_commands_running ON fleet_commands(acknowledged_at)"
    " WHERE status IN ('ACKNOWLEDGED', 'IN_PROGRESS');"
    "CREATE TABLE release_deploy_counts ("
    " release_id TEXT NOT NULL REFERENCES releases(id),"
    " organization_id TEXT NOT NULL REFERENCES organizations(id),"
    " n INTEGER NOT NULL,"
    " PRIMARY KEY (release_id, organization_id));"
    "INSERT INTO release_deploy_counts (release_id, organization_id, n)"
    " SELECT c.release_id, l.organization_id, COUNT(*)"
    " FROM fleet_commands c JOIN server_nodes n ON n.id = c.server_node_id"
    " JOIN locations l ON l.id = n.location_id"
    " WHERE c.type = 'FORCE_UPDATE' AND c.release_id IS NOT NULL"
    " GROUP BY c.release_id, l.organization_id;";

/* When the stream that last marked the node online opened: a late online
 * mark from an older stream, on another instance, must not win. */
static const char m4_presence_order[] =
    "ALTER TABLE server_nodes ADD COLUMN online_since TEXT;";

const char *const migrations_sqlite[] = {
    m1_base, m2_instances, m3_deploy_scale, m4_presence_order, NULL,
};
