-- Schema shape: schemas, tables, RLS on every table, privileges of the API roles, the RPC
-- surface, the event triggers, the indexes queries rely on, and the publication.
begin;
select plan(89);

-- Schemas ----------------------------------------------------------------------------------------
select has_schema('vendorhub');
select has_schema('auth');
select has_schema('realtime');
select has_schema('extensions');
select schema_privs_are('vendorhub', 'anon', array[]::text[], 'anon has no USAGE on the private schema vendorhub');
select schema_privs_are('vendorhub', 'authenticated', array[]::text[], 'authenticated has no USAGE on the private schema vendorhub');
select schema_privs_are('vendorhub', 'service_role', array['USAGE'], 'service_role uses vendorhub');

-- Supabase objects the migrations rely on (from Supabase, or the shim on plain Postgres) ----------
select has_table('auth', 'users', 'auth.users exists');
select has_function('auth', 'uid', array[]::text[], 'auth.uid() exists');
select has_function('auth', 'role', array[]::text[], 'auth.role() exists');
select has_function('auth', 'jwt', array[]::text[], 'auth.jwt() exists');
select has_table('realtime', 'messages', 'realtime.messages exists');
select has_function('realtime', 'topic', array[]::text[], 'realtime.topic() exists');
select ok((select relrowsecurity from pg_class where oid = 'realtime.messages'::regclass), 'realtime.messages has RLS enabled');
select ok(
  (select rolbypassrls and not rolcanlogin from pg_roles where rolname = 'service_role'),
  'service_role bypasses RLS and cannot log in');

-- Tables ------------------------------------------------------------------------------------------
select has_table('public', t, 'public.' || t || ' exists')
from unnest(array[
  'vendors', 'vendor_members', 'weddings', 'wedding_couples', 'wedding_vendors', 'conversations',
  'conversation_participants', 'messages', 'vendor_status_updates', 'tasks', 'availability_blocks',
  'bookings', 'notification_settings', 'notification_preferences', 'devices', 'notifications',
  'deliveries', 'integration_connections']) as t;
select has_table('vendorhub', t, 'vendorhub.' || t || ' exists')
from unnest(array['integration_credentials', 'webhook_inbox', 'audit_log']) as t;

-- Every table in public and vendorhub, whoever's migration made it, has RLS enabled.
select is_empty(
  $$ select n.nspname || '.' || c.relname
     from pg_class c join pg_namespace n on n.oid = c.relnamespace
     where n.nspname in ('public', 'vendorhub') and c.relkind in ('r', 'p') and not c.relrowsecurity $$,
  'RLS is enabled on every table in public and vendorhub');

-- Credentials are stored as ciphertext with a key id, never as text.
select col_type_is('vendorhub', 'integration_credentials', 'ciphertext', 'bytea', 'credentials are bytea ciphertext');
select col_not_null('vendorhub', 'integration_credentials', 'key_id', 'every ciphertext names its key');
select hasnt_column('public', 'integration_connections', 'secret', 'integration_connections holds no secret column');

-- Privileges of the API roles ---------------------------------------------------------------------
select is_empty(
  $$ select c.oid::regclass::text || ' ' || r.rolname
     from pg_class c join pg_namespace n on n.oid = c.relnamespace
     cross join (values ('anon'), ('authenticated')) as r(rolname)
     where n.nspname = 'vendorhub' and c.relkind in ('r', 'p', 'v', 'm')
       and (has_table_privilege(r.rolname, c.oid, 'select') or has_table_privilege(r.rolname, c.oid, 'insert')
            or has_table_privilege(r.rolname, c.oid, 'update') or has_table_privilege(r.rolname, c.oid, 'delete')) $$,
  'anon and authenticated hold no privilege on any vendorhub table');
select is_empty(
  $$ select c.oid::regclass::text || ' ' || r.rolname
     from pg_class c
     cross join (values ('anon'), ('authenticated')) as r(rolname)
     where c.oid = any (array[
       'public.vendors', 'public.vendor_members', 'public.weddings', 'public.wedding_couples',
       'public.wedding_vendors', 'public.conversations', 'public.conversation_participants',
       'public.messages', 'public.vendor_status_updates', 'public.tasks', 'public.availability_blocks',
       'public.bookings', 'public.notification_settings', 'public.notification_preferences',
       'public.devices', 'public.notifications', 'public.deliveries',
       'public.integration_connections']::regclass[])
       and has_table_privilege(r.rolname, c.oid, 'truncate') $$,
  'anon and authenticated cannot TRUNCATE (which ignores RLS) any foundation table');
select ok(has_column_privilege('authenticated', 'public.messages', 'body', 'update'), 'authenticated may edit a message body');
select ok(not has_column_privilege('authenticated', 'public.messages', 'sender_id', 'update'), 'authenticated may not change a message sender');
select ok(not has_column_privilege('authenticated', 'public.messages', 'conversation_id', 'update'), 'authenticated may not move a message');
select ok(not has_table_privilege('authenticated', 'public.notifications', 'insert'), 'authenticated may not write notifications');
select ok(not has_table_privilege('authenticated', 'public.deliveries', 'update'), 'authenticated may not write deliveries');
select ok(not has_column_privilege('authenticated', 'public.notification_settings', 'sms_opted_out_at', 'update'),
  'authenticated may not clear an SMS opt-out');

-- Of the foundation's functions in vendorhub, only the predicates and validators that policies
-- and constraints evaluate are executable by the API roles (who still cannot name them: no
-- USAGE on the schema).
create temporary table foundation_fn as
select p.oid, p.proname::text as name
from pg_proc p join pg_namespace n on n.oid = p.pronamespace
where n.nspname = 'vendorhub' and p.proname = any (array[
  'is_iana_timezone', 'is_push_token', 'touch_updated_at', 'messages_before_write',
  'conversations_add_creator', 'notification_settings_before_update', 'audit_log_append_only',
  'is_vendor_member', 'is_vendor_owner', 'is_wedding_couple', 'user_sees_wedding', 'can_see_wedding',
  'can_see_vendor', 'is_participant', 'can_add_participant', 'topic_id', 'can_receive_topic',
  'can_send_topic', 'event_types', 'emit', 'preview', 'participants_of', 'emit_message_created',
  'emit_message_read', 'emit_vendor_status_changed', 'emit_availability_changed',
  'emit_booking_updated', 'emit_connection_changed', 'emit_webhook_received',
  'emit_notification_created', 'emit_delivery_updated', 'emit_task_updated']);
select is_empty(
  $$ select f.oid::regprocedure::text from foundation_fn f
     where has_function_privilege('anon', f.oid, 'execute')
       and f.name not in ('is_iana_timezone', 'is_push_token') $$,
  'anon can execute no foundation function in vendorhub but the two validators');
select is_empty(
  $$ select f.oid::regprocedure::text from foundation_fn f
     where has_function_privilege('authenticated', f.oid, 'execute')
       and f.name not in ('is_iana_timezone', 'is_push_token', 'is_vendor_member', 'is_vendor_owner',
         'is_wedding_couple', 'user_sees_wedding', 'can_see_wedding', 'can_see_vendor', 'is_participant',
         'can_add_participant', 'topic_id', 'can_receive_topic', 'can_send_topic') $$,
  'authenticated can execute no foundation function in vendorhub but the policy predicates');
select ok(not has_function_privilege('authenticated', 'vendorhub.emit(text, uuid, jsonb, jsonb)', 'execute'),
  'authenticated cannot emit events');
select ok(has_function_privilege('service_role', 'vendorhub.emit(text, uuid, jsonb, jsonb)', 'execute'),
  'service_role (the sidecar) can emit events');
select is_empty(
  $$ select p.oid::regprocedure::text
     from pg_proc p join pg_namespace n on n.oid = p.pronamespace
     where n.nspname = 'vendorhub' and p.prosecdef
       and not coalesce('search_path=""' = any (p.proconfig), false) $$,
  'every SECURITY DEFINER function in vendorhub pins search_path to empty');

-- RPC surface -------------------------------------------------------------------------------------
select has_function('public', 'send_message', array['uuid', 'text', 'uuid']);
select has_function('public', 'mark_conversation_read', array['uuid']);
select has_function('public', 'set_notification_preferences', array['jsonb']);
select has_function('public', 'set_notification_settings', array['text', 'time without time zone', 'time without time zone']);
select has_function('public', 'register_device', array['text', 'text']);
select isnt_definer('public', 'send_message', array['uuid', 'text', 'uuid'], 'send_message runs as the caller');
select isnt_definer('public', 'mark_conversation_read', array['uuid'], 'mark_conversation_read runs as the caller');
select isnt_definer('public', 'set_notification_preferences', array['jsonb'], 'set_notification_preferences runs as the caller');
select is_definer('public', 'register_device', array['text', 'text'], 'register_device is SECURITY DEFINER (moves tokens across users)');
select is_empty(
  $$ select f from unnest(array['public.send_message(uuid, text, uuid)', 'public.mark_conversation_read(uuid)',
       'public.set_notification_preferences(jsonb)', 'public.set_notification_settings(text, time, time)',
       'public.register_device(text, text)']) as f
     where has_function_privilege('anon', f, 'execute') or not has_function_privilege('authenticated', f, 'execute') $$,
  'the RPCs are executable by authenticated and not by anon');

-- Event triggers ----------------------------------------------------------------------------------
select has_function('vendorhub', 'emit', array['text', 'uuid', 'jsonb', 'jsonb']);
select has_trigger('public', 'messages', 'emit_message_created', 'public.messages has trigger emit_message_created');
select has_trigger('public', 'conversation_participants', 'emit_message_read', 'public.conversation_participants has trigger emit_message_read');
select has_trigger('public', 'wedding_vendors', 'emit_vendor_status_changed_insert', 'public.wedding_vendors has trigger emit_vendor_status_changed_insert');
select has_trigger('public', 'wedding_vendors', 'emit_vendor_status_changed_update', 'public.wedding_vendors has trigger emit_vendor_status_changed_update');
select has_trigger('public', 'vendor_status_updates', 'emit_vendor_status_changed', 'public.vendor_status_updates has trigger emit_vendor_status_changed');
select has_trigger('public', 'availability_blocks', 'emit_availability_changed', 'public.availability_blocks has trigger emit_availability_changed');
select has_trigger('public', 'bookings', 'emit_booking_updated', 'public.bookings has trigger emit_booking_updated');
select has_trigger('public', 'integration_connections', 'emit_connection_changed', 'public.integration_connections has trigger emit_connection_changed');
select has_trigger('vendorhub', 'webhook_inbox', 'emit_webhook_received', 'vendorhub.webhook_inbox has trigger emit_webhook_received');
select has_trigger('public', 'notifications', 'emit_notification_created', 'public.notifications has trigger emit_notification_created');
select has_trigger('public', 'deliveries', 'emit_delivery_updated', 'public.deliveries has trigger emit_delivery_updated');
select has_trigger('public', 'tasks', 'emit_task_updated', 'public.tasks has trigger emit_task_updated');
select has_trigger('vendorhub', 'audit_log', 'audit_log_append_only', 'vendorhub.audit_log has trigger audit_log_append_only');

-- Indexes for the queries that use them -----------------------------------------------------------
select has_index('public', 'messages', 'messages_conversation_id_created_at_idx', array['conversation_id', 'created_at', 'id']);
select has_index('public', 'conversation_participants', 'conversation_participants_user_id_idx', array['user_id', 'conversation_id']);
select has_index('public', 'wedding_vendors', 'wedding_vendors_vendor_id_idx', array['vendor_id', 'wedding_id']);
select has_index('public', 'vendor_members', 'vendor_members_user_id_idx', array['user_id', 'vendor_id']);
select has_index('public', 'wedding_couples', 'wedding_couples_user_id_idx', array['user_id', 'wedding_id']);
select has_index('public', 'availability_blocks', 'availability_blocks_vendor_id_starts_at_idx', array['vendor_id', 'starts_at']);
select has_index('public', 'notifications', 'notifications_user_id_created_at_idx', array['user_id', 'created_at']);
select has_index('public', 'deliveries', 'deliveries_provider_id_idx', array['provider', 'provider_id']);

-- Publication -------------------------------------------------------------------------------------
select ok(exists (select 1 from pg_publication where pubname = 'vendorhub'), 'publication vendorhub exists');
select ok(
  exists (select 1 from pg_publication_tables where pubname = 'vendorhub' and schemaname = 'public' and tablename = 'messages'),
  'publication vendorhub publishes public.messages');
select is((select relreplident::text from pg_class where oid = 'public.messages'::regclass), 'd',
  'public.messages has replica identity default');
select ok(exists (select 1 from pg_publication where pubname = 'supabase_realtime'), 'publication supabase_realtime exists');

select * from finish();
rollback;
