-- Adversarial writes: every table an API role (anon, authenticated) can INSERT into or UPDATE
-- through PostgREST, attacked by every kind of actor — anon, an outsider, the couple, a vendor
-- owner, a vendor's staff, a conversation participant, and a vendor member who works two
-- weddings — trying to write into, or move rows into, another wedding / vendor / conversation /
-- user, and to forge authorship and server timestamps; plus the legitimate writes, which must
-- still work. The list of writable tables comes from the catalog: a new INSERT/UPDATE grant (with
-- a policy that lets it through) on a table or operation without a case here fails the suite.
-- Each case runs in a rolled-back subtransaction (tests.attempt in fixtures/tenants.psql).
begin;
\ir fixtures/world.psql
\ir fixtures/tenants.psql

-- expect: 'rows=<n>[ check=true]' when the write runs (n rows touched; the check, evaluated right
-- after, holds), or the SQLSTATE that refuses it: 42501 (privilege or RLS), 23503 (foreign key).
create temporary table cases (
  n serial primary key,
  tbl text not null, -- schema.table
  op text not null check (op in ('insert', 'update')),
  actor text not null,
  what text not null,
  stmt text not null,
  chk text,
  expect text not null,
  also text[] not null default '{}' -- for a legitimate write: the other actors who may make it too
);

insert into cases (tbl, op, actor, what, expect, stmt, chk) values
-- vendors: owners edit their profile; nobody creates vendors or moves timestamps -------------------
('public.vendors', 'update', 'VENDOR', 'owner renames own vendor', 'rows=1 check=true',
 'update public.vendors set name = ''Renamed'' where id = {V1}', '(select name = ''Renamed'' and updated_at = now() from public.vendors where id = {V1})'),
('public.vendors', 'update', 'STAFF', 'staff renames the vendor', 'rows=0', 'update public.vendors set name = ''Renamed'' where id = {V1}', null),
('public.vendors', 'update', 'OUTSIDER', 'outsider renames another vendor', 'rows=0', 'update public.vendors set name = ''Renamed'' where id = {V1}', null),
('public.vendors', 'update', 'anon', 'anon renames a vendor', '42501', 'update public.vendors set name = ''Renamed'' where id = {V1}', null),
('public.vendors', 'update', 'VENDOR', 'owner forges created_at', '42501', 'update public.vendors set created_at = ''2020-01-01'' where id = {V1}', null),
('public.vendors', 'insert', 'VENDOR', 'owner creates a vendor', '42501', 'insert into public.vendors (name, kind) values (''Mine'', ''other'')', null),
-- vendor_members: owners manage their staff only ---------------------------------------------------
('public.vendor_members', 'insert', 'VENDOR', 'owner adds staff', 'rows=1 check=true',
 'insert into public.vendor_members (vendor_id, user_id) values ({V1}, {OUTSIDER})', '(select role = ''staff'' from public.vendor_members where vendor_id = {V1} and user_id = {OUTSIDER})'),
('public.vendor_members', 'insert', 'STAFF', 'staff adds a member', '42501', 'insert into public.vendor_members (vendor_id, user_id) values ({V1}, {OUTSIDER})', null),
('public.vendor_members', 'insert', 'OUTSIDER', 'outsider joins a vendor as owner', '42501', 'insert into public.vendor_members (vendor_id, user_id, role) values ({V1}, {OUTSIDER}, ''owner'')', null),
('public.vendor_members', 'insert', 'VENDOR', 'owner joins another vendor', '42501', 'insert into public.vendor_members (vendor_id, user_id, role) values ({VOUT}, {VENDOR}, ''owner'')', null),
('public.vendor_members', 'insert', 'VENDOR', 'owner forges created_at', '42501', 'insert into public.vendor_members (vendor_id, user_id, created_at) values ({V1}, {OUTSIDER}, ''2020-01-01'')', null),
('public.vendor_members', 'update', 'VENDOR', 'owner promotes staff', 'rows=1 check=true',
 'update public.vendor_members set role = ''owner'' where vendor_id = {V1} and user_id = {STAFF}', '(select role = ''owner'' from public.vendor_members where vendor_id = {V1} and user_id = {STAFF})'),
('public.vendor_members', 'update', 'STAFF', 'staff promotes themself', 'rows=0', 'update public.vendor_members set role = ''owner'' where vendor_id = {V1} and user_id = {STAFF}', null),
('public.vendor_members', 'update', 'VENDOR', 'owner moves a member to another vendor', '42501', 'update public.vendor_members set vendor_id = {VOUT} where vendor_id = {V1} and user_id = {STAFF}', null),
('public.vendor_members', 'update', 'VENDOR', 'owner swaps the member for another user', '42501', 'update public.vendor_members set user_id = {OUTSIDER} where vendor_id = {V1} and user_id = {STAFF}', null),
-- weddings: the couple edits its own ----------------------------------------------------------------
('public.weddings', 'update', 'COUPLE', 'couple renames own wedding', 'rows=1 check=true',
 'update public.weddings set title = ''Our day'' where id = {W1}', '(select title = ''Our day'' from public.weddings where id = {W1})'),
('public.weddings', 'update', 'VENDOR', 'vendor renames a wedding it works', 'rows=0', 'update public.weddings set title = ''x'' where id = {W1}', null),
('public.weddings', 'update', 'COUPLE', 'couple renames another wedding', 'rows=0', 'update public.weddings set title = ''x'' where id = {W2}', null),
('public.weddings', 'update', 'COUPLE', 'couple forges created_at', '42501', 'update public.weddings set created_at = ''2020-01-01'' where id = {W1}', null),
('public.weddings', 'insert', 'COUPLE', 'couple creates a wedding', '42501', 'insert into public.weddings (title, wedding_date) values (''x'', ''2028-01-01'')', null),
-- wedding_vendors: couple invites (inquiry only); the vendor side books ------------------------------
('public.wedding_vendors', 'insert', 'COUPLE', 'couple invites a vendor (inquiry)', 'rows=1 check=true',
 'insert into public.wedding_vendors (wedding_id, vendor_id) values ({W1}, {VOUT})', '(select status = ''inquiry'' from public.wedding_vendors where wedding_id = {W1} and vendor_id = {VOUT})'),
('public.wedding_vendors', 'insert', 'COUPLE', 'couple books any vendor outright', '42501', 'insert into public.wedding_vendors (wedding_id, vendor_id, status) values ({W1}, {VOUT}, ''booked'')', null),
('public.wedding_vendors', 'insert', 'COUPLE', 'couple confirms any vendor outright', '42501', 'insert into public.wedding_vendors (wedding_id, vendor_id, status) values ({W1}, {VOUT}, ''confirmed'')', null),
('public.wedding_vendors', 'insert', 'COUPLE', 'couple connects a vendor to another wedding', '42501', 'insert into public.wedding_vendors (wedding_id, vendor_id) values ({W2}, {V3})', null),
('public.wedding_vendors', 'insert', 'VENDOR', 'vendor connects itself to a wedding', '42501', 'insert into public.wedding_vendors (wedding_id, vendor_id) values ({W2}, {V1})', null),
('public.wedding_vendors', 'insert', 'COUPLE', 'couple forges created_at', '42501', 'insert into public.wedding_vendors (wedding_id, vendor_id, created_at) values ({W1}, {VOUT}, ''2020-01-01'')', null),
('public.wedding_vendors', 'update', 'VENDOR', 'owner confirms a booking', 'rows=1 check=true',
 'update public.wedding_vendors set status = ''confirmed'' where wedding_id = {W1} and vendor_id = {V1}', '(select status = ''confirmed'' from public.wedding_vendors where wedding_id = {W1} and vendor_id = {V1})'),
('public.wedding_vendors', 'update', 'STAFF', 'staff confirms a booking', 'rows=1', 'update public.wedding_vendors set status = ''confirmed'' where wedding_id = {W1} and vendor_id = {V1}', null),
('public.wedding_vendors', 'update', 'COUPLE', 'couple cancels a vendor', 'rows=1', 'update public.wedding_vendors set status = ''cancelled'' where wedding_id = {W1} and vendor_id = {V1}', null),
('public.wedding_vendors', 'update', 'COUPLE', 'couple confirms for the vendor', '42501', 'update public.wedding_vendors set status = ''confirmed'' where wedding_id = {W1} and vendor_id = {V1}', null),
('public.wedding_vendors', 'update', 'VENDOR', 'vendor moves booked back to inquiry', '42501', 'update public.wedding_vendors set status = ''inquiry'' where wedding_id = {W1} and vendor_id = {V1}', null),
('public.wedding_vendors', 'update', 'VENDOR', 'vendor moves its connection to another wedding', '42501', 'update public.wedding_vendors set wedding_id = {W2} where wedding_id = {W1} and vendor_id = {V1}', null),
('public.wedding_vendors', 'update', 'COUPLE', 'couple swaps the vendor of a connection', '42501', 'update public.wedding_vendors set vendor_id = {VOUT} where wedding_id = {W1} and vendor_id = {V1}', null),
('public.wedding_vendors', 'update', 'MULTI', 'another vendor of the wedding moves V1', 'rows=0', 'update public.wedding_vendors set status = ''cancelled'' where wedding_id = {W1} and vendor_id = {V1}', null),
('public.wedding_vendors', 'update', 'OUTSIDER', 'outsider moves a connection', 'rows=0', 'update public.wedding_vendors set status = ''cancelled'' where wedding_id = {W1}', null),
-- conversations: started in a wedding one sees, as oneself; never moved -----------------------------
('public.conversations', 'insert', 'COUPLE', 'couple starts a conversation', 'rows=1 check=true',
 'insert into public.conversations (wedding_id, subject) values ({W1}, ''Probe'')',
 '(select created_by = {COUPLE} and created_at = now() from public.conversations where subject = ''Probe'')'),
('public.conversations', 'insert', 'COUPLE', 'couple starts one in another wedding', '42501', 'insert into public.conversations (wedding_id, subject) values ({W2}, ''Probe'')', null),
('public.conversations', 'insert', 'PARTICIPANT', 'participant starts one as the couple', '42501', 'insert into public.conversations (wedding_id, subject, created_by) values ({W1}, ''Probe'', {COUPLE})', null),
('public.conversations', 'insert', 'COUPLE', 'couple backdates a conversation', '42501', 'insert into public.conversations (wedding_id, subject, created_at) values ({W1}, ''Probe'', ''2020-01-01'')', null),
('public.conversations', 'insert', 'COUPLE', 'couple threads under another wedding''s conversation', '42501', 'insert into public.conversations (wedding_id, parent_id, subject) values ({W1}, {C2}, ''Probe'')', null),
('public.conversations', 'update', 'PARTICIPANT', 'participant renames', 'rows=1 check=true',
 'update public.conversations set subject = ''Renamed'' where id = {C1}', '(select subject = ''Renamed'' and wedding_id = {W1} from public.conversations where id = {C1})'),
('public.conversations', 'update', 'PARTICIPANT', 'participant moves it to a wedding they are not in', '42501', 'update public.conversations set wedding_id = {W2} where id = {C1}', null),
('public.conversations', 'update', 'MULTI', 'participant moves it to their other wedding', '42501', 'update public.conversations set wedding_id = {W2} where id = {C1}', null),
('public.conversations', 'update', 'PARTICIPANT', 'participant re-parents it', '42501', 'update public.conversations set parent_id = {C2} where id = {C1}', null),
('public.conversations', 'update', 'PARTICIPANT', 'participant forges created_by', '42501', 'update public.conversations set created_by = {PARTICIPANT} where id = {C1}', null),
('public.conversations', 'update', 'OUTSIDER', 'outsider renames', 'rows=0', 'update public.conversations set subject = ''x'' where id = {C1}', null),
-- conversation_participants -------------------------------------------------------------------------
('public.conversation_participants', 'insert', 'PARTICIPANT', 'participant adds a vendor of the wedding', 'rows=1 check=true',
 'insert into public.conversation_participants (conversation_id, user_id) values ({C1}, {VENDOR})',
 '(select joined_at = now() from public.conversation_participants where conversation_id = {C1} and user_id = {VENDOR})'),
('public.conversation_participants', 'insert', 'PARTICIPANT', 'participant adds an outsider', '42501', 'insert into public.conversation_participants (conversation_id, user_id) values ({C1}, {OUTSIDER})', null),
('public.conversation_participants', 'insert', 'OUTSIDER', 'outsider joins', '42501', 'insert into public.conversation_participants (conversation_id, user_id) values ({C1}, {OUTSIDER})', null),
('public.conversation_participants', 'insert', 'VENDOR', 'vendor of the wedding joins uninvited', '42501', 'insert into public.conversation_participants (conversation_id, user_id) values ({C1}, {VENDOR})', null),
('public.conversation_participants', 'insert', 'PARTICIPANT', 'participant backdates joined_at', '42501', 'insert into public.conversation_participants (conversation_id, user_id, joined_at) values ({C1}, {VENDOR}, ''2020-01-01'')', null),
('public.conversation_participants', 'update', 'PARTICIPANT', 'participant moves own read marker', 'rows=1', 'update public.conversation_participants set last_read_at = now() where conversation_id = {C1} and user_id = {PARTICIPANT}', null),
('public.conversation_participants', 'update', 'PARTICIPANT', 'participant moves their seat to another conversation', '42501', 'update public.conversation_participants set conversation_id = {C2} where conversation_id = {C1} and user_id = {PARTICIPANT}', null),
('public.conversation_participants', 'update', 'PARTICIPANT', 'participant hands their seat to another user', '42501', 'update public.conversation_participants set user_id = {OUTSIDER} where conversation_id = {C1} and user_id = {PARTICIPANT}', null),
('public.conversation_participants', 'update', 'PARTICIPANT', 'participant backdates joined_at', '42501', 'update public.conversation_participants set joined_at = ''2020-01-01'' where conversation_id = {C1} and user_id = {PARTICIPANT}', null),
('public.conversation_participants', 'update', 'PARTICIPANT', 'participant moves another''s read marker', 'rows=0', 'update public.conversation_participants set last_read_at = now() where conversation_id = {C1} and user_id = {COUPLE}', null),
-- messages --------------------------------------------------------------------------------------------
('public.messages', 'insert', 'PARTICIPANT', 'participant posts', 'rows=1 check=true',
 'insert into public.messages (conversation_id, body) values ({C1}, ''Probe'')',
 '(select sender_id = {PARTICIPANT} and wedding_id = {W1} and created_at = now() from public.messages where body = ''Probe'')'),
('public.messages', 'insert', 'PARTICIPANT', 'participant backdates a message', '42501', 'insert into public.messages (conversation_id, body, created_at) values ({C1}, ''Probe'', ''2020-01-01'')', null),
('public.messages', 'insert', 'PARTICIPANT', 'participant posts as the couple', '42501', 'insert into public.messages (conversation_id, sender_id, body) values ({C1}, {COUPLE}, ''Probe'')', null),
('public.messages', 'insert', 'PARTICIPANT', 'participant labels a message with another wedding', '42501', 'insert into public.messages (conversation_id, wedding_id, body) values ({C1}, {W2}, ''Probe'')', null),
('public.messages', 'insert', 'PARTICIPANT', 'participant forges edited_at', '42501', 'insert into public.messages (conversation_id, body, edited_at) values ({C1}, ''Probe'', now())', null),
('public.messages', 'insert', 'PARTICIPANT', 'participant posts into another conversation', '42501', 'insert into public.messages (conversation_id, body) values ({C2}, ''Probe'')', null),
('public.messages', 'insert', 'PARTICIPANT', 'participant replies to another conversation''s message', '23503', 'insert into public.messages (conversation_id, body, reply_to) values ({C1}, ''Probe'', {M2})', null),
('public.messages', 'update', 'PARTICIPANT', 'sender edits', 'rows=1 check=true',
 'update public.messages set body = ''Edited'' where id = {M1}', '(select edited_at = now() and conversation_id = {C1} from public.messages where id = {M1})'),
('public.messages', 'update', 'PARTICIPANT', 'sender moves a message to another conversation', '42501', 'update public.messages set conversation_id = {C2} where id = {M1}', null),
('public.messages', 'update', 'PARTICIPANT', 'sender hands a message to another user', '42501', 'update public.messages set sender_id = {COUPLE} where id = {M1}', null),
('public.messages', 'update', 'PARTICIPANT', 'sender backdates a message', '42501', 'update public.messages set created_at = ''2020-01-01'' where id = {M1}', null),
('public.messages', 'update', 'COUPLE', 'participant edits another''s message', 'rows=0', 'update public.messages set body = ''x'' where id = {M1}', null),
-- vendor_status_updates: append-only, for one's own vendor, at the server's time ---------------------
('public.vendor_status_updates', 'insert', 'VENDOR', 'owner posts for own vendor', 'rows=1 check=true',
 'insert into public.vendor_status_updates (wedding_id, vendor_id, status) values ({W1}, {V1}, ''en_route'')',
 '(select created_by = {VENDOR} and created_at = now() from public.vendor_status_updates where status = ''en_route'')'),
('public.vendor_status_updates', 'insert', 'STAFF', 'staff posts for own vendor', 'rows=1', 'insert into public.vendor_status_updates (wedding_id, vendor_id, status) values ({W1}, {V1}, ''arrived'')', null),
('public.vendor_status_updates', 'insert', 'MULTI', 'two-wedding member posts in the other wedding', 'rows=1', 'insert into public.vendor_status_updates (wedding_id, vendor_id, status) values ({W2}, {VM}, ''arrived'')', null),
('public.vendor_status_updates', 'insert', 'VENDOR', 'owner backdates a status update', '42501', 'insert into public.vendor_status_updates (wedding_id, vendor_id, status, created_at) values ({W1}, {V1}, ''arrived'', ''2020-01-01'')', null),
('public.vendor_status_updates', 'insert', 'VENDOR', 'owner posts as their staff', '42501', 'insert into public.vendor_status_updates (wedding_id, vendor_id, status, created_by) values ({W1}, {V1}, ''arrived'', {STAFF})', null),
('public.vendor_status_updates', 'insert', 'VENDOR', 'owner posts in a wedding the vendor does not work', '23503', 'insert into public.vendor_status_updates (wedding_id, vendor_id, status) values ({W2}, {V1}, ''arrived'')', null),
('public.vendor_status_updates', 'insert', 'MULTI', 'member posts for another vendor', '42501', 'insert into public.vendor_status_updates (wedding_id, vendor_id, status) values ({W1}, {V1}, ''arrived'')', null),
('public.vendor_status_updates', 'insert', 'COUPLE', 'couple posts for a vendor', '42501', 'insert into public.vendor_status_updates (wedding_id, vendor_id, status) values ({W1}, {V1}, ''arrived'')', null),
('public.vendor_status_updates', 'update', 'VENDOR', 'owner rewrites an update', '42501', 'update public.vendor_status_updates set note = ''x'' where id = {S1}', null),
-- tasks -------------------------------------------------------------------------------------------------
('public.tasks', 'insert', 'COUPLE', 'couple adds a task', 'rows=1 check=true',
 'insert into public.tasks (wedding_id, title) values ({W1}, ''Probe'')', '(select created_by = {COUPLE} and created_at = now() from public.tasks where title = ''Probe'')'),
('public.tasks', 'insert', 'MULTI', 'two-wedding member adds a task in the other wedding', 'rows=1', 'insert into public.tasks (wedding_id, vendor_id, title) values ({W2}, {VM}, ''Probe'')', null),
('public.tasks', 'insert', 'COUPLE', 'couple adds a task to another wedding', '42501', 'insert into public.tasks (wedding_id, title) values ({W2}, ''Probe'')', null),
('public.tasks', 'insert', 'COUPLE', 'couple adds a task as someone else', '42501', 'insert into public.tasks (wedding_id, title, created_by) values ({W1}, ''Probe'', {PARTICIPANT})', null),
('public.tasks', 'insert', 'COUPLE', 'couple backdates a task', '42501', 'insert into public.tasks (wedding_id, title, created_at) values ({W1}, ''Probe'', ''2020-01-01'')', null),
('public.tasks', 'update', 'MULTI', 'assigned vendor completes a task', 'rows=1 check=true',
 'update public.tasks set status = ''done'' where id = {TM}', '(select status = ''done'' and wedding_id = {W1} from public.tasks where id = {TM})'),
('public.tasks', 'update', 'MULTI', 'two-wedding member moves a task (with notes) to the other wedding', '42501', 'update public.tasks set wedding_id = {W2} where id = {TM}', null),
('public.tasks', 'update', 'COUPLE', 'couple reassigns a task''s vendor', '42501', 'update public.tasks set vendor_id = {V1} where id = {TM}', null),
('public.tasks', 'update', 'COUPLE', 'couple forges created_by', '42501', 'update public.tasks set created_by = {PARTICIPANT} where id = {TM}', null),
('public.tasks', 'update', 'VENDOR', 'unassigned vendor edits notes', 'rows=0', 'update public.tasks set notes = ''x'' where id = {TM}', null),
('public.tasks', 'update', 'MULTI', 'member edits a task of the other wedding not assigned to them', 'rows=0', 'update public.tasks set notes = ''x'' where id = {T2}', null),
-- availability_blocks -----------------------------------------------------------------------------------
('public.availability_blocks', 'insert', 'STAFF', 'staff types a busy block', 'rows=1 check=true',
 'insert into public.availability_blocks (vendor_id, starts_at, ends_at, title) values ({V1}, ''2027-07-01 10:00Z'', ''2027-07-01 12:00Z'', ''Probe'')',
 '(select source = ''manual'' and connection_id is null and created_at = now() from public.availability_blocks where title = ''Probe'')'),
('public.availability_blocks', 'insert', 'VENDOR', 'owner blocks another vendor''s calendar', '42501', 'insert into public.availability_blocks (vendor_id, starts_at, ends_at) values ({VOUT}, ''2027-07-01 10:00Z'', ''2027-07-01 12:00Z'')', null),
('public.availability_blocks', 'insert', 'VENDOR', 'owner links another vendor''s connection', '42501', 'insert into public.availability_blocks (vendor_id, starts_at, ends_at, connection_id) values ({V1}, ''2027-07-01 10:00Z'', ''2027-07-01 12:00Z'', {IC2})', null),
('public.availability_blocks', 'insert', 'VENDOR', 'owner forges a synced block', '42501', 'insert into public.availability_blocks (vendor_id, starts_at, ends_at, source, external_id) values ({V1}, ''2027-07-01 10:00Z'', ''2027-07-01 12:00Z'', ''google'', ''x'')', null),
('public.availability_blocks', 'insert', 'VENDOR', 'owner backdates a block', '42501', 'insert into public.availability_blocks (vendor_id, starts_at, ends_at, created_at) values ({V1}, ''2027-07-01 10:00Z'', ''2027-07-01 12:00Z'', ''2020-01-01'')', null),
('public.availability_blocks', 'insert', 'service', 'the sidecar links another vendor''s connection', '23503', 'insert into public.availability_blocks (vendor_id, starts_at, ends_at, source, external_id, connection_id) values ({V1}, ''2027-07-01 10:00Z'', ''2027-07-01 12:00Z'', ''google'', ''x'', {IC2})', null),
('public.availability_blocks', 'insert', 'service', 'the sidecar links the vendor''s own connection', 'rows=1', 'insert into public.availability_blocks (vendor_id, starts_at, ends_at, source, external_id, connection_id) values ({V1}, ''2027-07-01 10:00Z'', ''2027-07-01 12:00Z'', ''honeybook'', ''x'', {IC1})', null),
('public.availability_blocks', 'update', 'VENDOR', 'owner retitles a block', 'rows=1', 'update public.availability_blocks set title = ''x'' where id = {A1}', null),
('public.availability_blocks', 'update', 'VENDOR', 'owner moves a block to another vendor', '42501', 'update public.availability_blocks set vendor_id = {VOUT} where id = {A1}', null),
('public.availability_blocks', 'update', 'VENDOR', 'owner links a connection later', '42501', 'update public.availability_blocks set connection_id = {IC1} where id = {A1}', null),
('public.availability_blocks', 'update', 'OUTSIDER', 'outsider retitles a block', 'rows=0', 'update public.availability_blocks set title = ''x'' where id = {A1}', null),
-- bookings ------------------------------------------------------------------------------------------------
('public.bookings', 'insert', 'VENDOR', 'owner books a wedding the vendor works', 'rows=1 check=true',
 'insert into public.bookings (vendor_id, wedding_id, starts_at, ends_at, title) values ({V1}, {W1}, ''2027-06-12 09:00Z'', ''2027-06-12 10:00Z'', ''Probe'')',
 '(select source = ''manual'' and created_at = now() from public.bookings where title = ''Probe'')'),
('public.bookings', 'insert', 'VENDOR', 'owner books a wedding the vendor does not work', '23503', 'insert into public.bookings (vendor_id, wedding_id, starts_at, ends_at) values ({V1}, {W2}, ''2027-09-18 01:00Z'', ''2027-09-18 02:00Z'')', null),
('public.bookings', 'insert', 'VENDOR', 'owner books for another vendor', '42501', 'insert into public.bookings (vendor_id, starts_at, ends_at) values ({VOUT}, ''2027-09-18 01:00Z'', ''2027-09-18 02:00Z'')', null),
('public.bookings', 'insert', 'VENDOR', 'owner links another vendor''s connection', '42501', 'insert into public.bookings (vendor_id, starts_at, ends_at, connection_id) values ({V1}, ''2027-07-01 10:00Z'', ''2027-07-01 12:00Z'', {IC2})', null),
('public.bookings', 'insert', 'VENDOR', 'owner backdates a booking', '42501', 'insert into public.bookings (vendor_id, starts_at, ends_at, created_at) values ({V1}, ''2027-07-01 10:00Z'', ''2027-07-01 12:00Z'', ''2020-01-01'')', null),
('public.bookings', 'insert', 'service', 'the sidecar links another vendor''s connection', '23503', 'insert into public.bookings (vendor_id, starts_at, ends_at, source, external_id, connection_id) values ({V1}, ''2027-07-01 10:00Z'', ''2027-07-01 12:00Z'', ''google'', ''x'', {IC2})', null),
('public.bookings', 'update', 'STAFF', 'staff cancels a booking', 'rows=1', 'update public.bookings set status = ''cancelled'' where id = {B1}', null),
('public.bookings', 'update', 'VENDOR', 'owner moves a booking to another wedding', '42501', 'update public.bookings set wedding_id = {W2} where id = {B1}', null),
('public.bookings', 'update', 'VENDOR', 'owner moves a booking to another vendor', '42501', 'update public.bookings set vendor_id = {VOUT} where id = {B1}', null),
('public.bookings', 'update', 'VENDOR', 'owner forges the CRM stage', '42501', 'update public.bookings set crm_status = ''Paid'' where id = {B1}', null),
('public.bookings', 'update', 'COUPLE', 'couple edits their booking', 'rows=0', 'update public.bookings set title = ''x'' where id = {B1}', null),
-- notification_settings: own row; verification and suppression are the server's ----------------------
('public.notification_settings', 'insert', 'COUPLE', 'user creates own settings', 'rows=1', 'insert into public.notification_settings (user_id, timezone) values ({COUPLE}, ''UTC'')', null),
('public.notification_settings', 'insert', 'COUPLE', 'user creates settings for another user', '42501', 'insert into public.notification_settings (user_id, timezone, email) values ({OUTSIDER}, ''UTC'', ''x@example.com'')', null),
('public.notification_settings', 'insert', 'COUPLE', 'user marks their address verified', '42501', 'insert into public.notification_settings (user_id, email, email_verified_at) values ({COUPLE}, ''victim@example.com'', now())', null),
('public.notification_settings', 'update', 'PARTICIPANT', 'user sets quiet hours', 'rows=1', 'update public.notification_settings set quiet_hours_start = ''23:00'' where user_id = {PARTICIPANT}', null),
('public.notification_settings', 'update', 'PARTICIPANT', 'user types a third party''s email', 'rows=1 check=true',
 'update public.notification_settings set email = ''victim@example.com'' where user_id = {PARTICIPANT}', '(select email_verified_at is null from public.notification_settings where user_id = {PARTICIPANT})'),
('public.notification_settings', 'update', 'PARTICIPANT', 'user types their own confirmed email', 'rows=1 check=true',
 'update public.notification_settings set email = ''Participant@fixture.example.com'' where user_id = {PARTICIPANT}', '(select email_verified_at = now() from public.notification_settings where user_id = {PARTICIPANT})'),
('public.notification_settings', 'update', 'PARTICIPANT', 'user types their own confirmed phone', 'rows=1 check=true',
 'update public.notification_settings set phone = ''+447700900123'' where user_id = {PARTICIPANT}', '(select phone_verified_at = now() from public.notification_settings where user_id = {PARTICIPANT})'),
('public.notification_settings', 'update', 'PARTICIPANT', 'user verifies an address themself', '42501', 'update public.notification_settings set email_verified_at = now() where user_id = {PARTICIPANT}', null),
('public.notification_settings', 'update', 'PARTICIPANT', 'user hands their settings to another user', '42501', 'update public.notification_settings set user_id = {COUPLE} where user_id = {PARTICIPANT}', null),
('public.notification_settings', 'update', 'PARTICIPANT', 'user backdates settings', '42501', 'update public.notification_settings set created_at = ''2020-01-01'' where user_id = {PARTICIPANT}', null),
('public.notification_settings', 'update', 'OUTSIDER', 'user edits another''s settings', 'rows=0', 'update public.notification_settings set email = ''x@example.com'' where user_id = {PARTICIPANT}', null),
('public.notification_settings', 'update', 'service', 'the server verifies an address', 'rows=1 check=true',
 'update public.notification_settings set email = ''victim@example.com'', email_verified_at = ''2026-01-01'' where user_id = {PARTICIPANT}',
 '(select email_verified_at = ''2026-01-01'' from public.notification_settings where user_id = {PARTICIPANT})'),
-- notification_preferences ---------------------------------------------------------------------------
('public.notification_preferences', 'insert', 'PARTICIPANT', 'user adds a switch', 'rows=1', 'insert into public.notification_preferences (user_id, category, channel, enabled) values ({PARTICIPANT}, ''task'', ''sms'', false)', null),
('public.notification_preferences', 'insert', 'PARTICIPANT', 'user adds a switch for another user', '42501', 'insert into public.notification_preferences (user_id, category, channel, enabled) values ({COUPLE}, ''task'', ''sms'', false)', null),
('public.notification_preferences', 'update', 'PARTICIPANT', 'user flips a switch', 'rows=1', 'update public.notification_preferences set enabled = false where user_id = {PARTICIPANT}', null),
('public.notification_preferences', 'update', 'PARTICIPANT', 'user hands a switch to another user', '42501', 'update public.notification_preferences set user_id = {COUPLE} where user_id = {PARTICIPANT}', null),
('public.notification_preferences', 'update', 'PARTICIPANT', 'user forges updated_at', '42501', 'update public.notification_preferences set updated_at = ''2020-01-01'' where user_id = {PARTICIPANT}', null),
('public.notification_preferences', 'update', 'COUPLE', 'user flips another''s switch', 'rows=0', 'update public.notification_preferences set enabled = false where user_id = {PARTICIPANT}', null),
-- devices -------------------------------------------------------------------------------------------------
('public.devices', 'insert', 'PARTICIPANT', 'user registers a device', 'rows=1', 'insert into public.devices (user_id, platform, token) values ({PARTICIPANT}, ''web'', ''probe-token-0123456789abcdef0123456789'')', null),
('public.devices', 'insert', 'PARTICIPANT', 'user registers a device for another user', '42501', 'insert into public.devices (user_id, platform, token) values ({COUPLE}, ''web'', ''probe-token-0123456789abcdef0123456789'')', null),
('public.devices', 'update', 'PARTICIPANT', 'user disables own device', 'rows=1', 'update public.devices set enabled = false where id = {DEV1}', null),
('public.devices', 'update', 'PARTICIPANT', 'user hands a device to another user', '42501', 'update public.devices set user_id = {COUPLE} where id = {DEV1}', null),
('public.devices', 'update', 'PARTICIPANT', 'user forges last_seen_at', '42501', 'update public.devices set last_seen_at = ''2020-01-01'' where id = {DEV1}', null),
('public.devices', 'update', 'COUPLE', 'user disables another''s device', 'rows=0', 'update public.devices set enabled = false where id = {DEV1}', null),
-- notifications: written by the sidecar; the user marks read --------------------------------------
('public.notifications', 'update', 'PARTICIPANT', 'user marks read', 'rows=1', 'update public.notifications set read_at = now() where id = {N1}', null),
('public.notifications', 'update', 'PARTICIPANT', 'user hands a notification to another user', '42501', 'update public.notifications set user_id = {COUPLE} where id = {N1}', null),
('public.notifications', 'update', 'PARTICIPANT', 'user rewrites a notification', '42501', 'update public.notifications set title = ''x'' where id = {N1}', null),
('public.notifications', 'update', 'COUPLE', 'user marks another''s notification read', 'rows=0', 'update public.notifications set read_at = now() where id = {N1}', null),
('public.notifications', 'insert', 'PARTICIPANT', 'user writes a notification', '42501', 'insert into public.notifications (user_id, category, title) values ({COUPLE}, ''task'', ''x'')', null),
-- integration_connections: owners only ----------------------------------------------------------------
('public.integration_connections', 'insert', 'VENDOR', 'owner connects an integration', 'rows=1 check=true',
 'insert into public.integration_connections (vendor_id, kind, display_name) values ({V1}, ''ical'', ''Probe'')',
 '(select status = ''active'' from public.integration_connections where display_name = ''Probe'')'),
('public.integration_connections', 'insert', 'STAFF', 'staff connects an integration', '42501', 'insert into public.integration_connections (vendor_id, kind, display_name) values ({V1}, ''ical'', ''Probe'')', null),
('public.integration_connections', 'insert', 'VENDOR', 'owner connects for another vendor', '42501', 'insert into public.integration_connections (vendor_id, kind, display_name) values ({VOUT}, ''ical'', ''Probe'')', null),
('public.integration_connections', 'update', 'VENDOR', 'owner renames a connection', 'rows=1', 'update public.integration_connections set display_name = ''x'' where id = {IC1}', null),
('public.integration_connections', 'update', 'VENDOR', 'owner moves a connection to another vendor', '42501', 'update public.integration_connections set vendor_id = {VOUT} where id = {IC1}', null),
('public.integration_connections', 'update', 'VENDOR', 'owner forges the sync state', '42501', 'update public.integration_connections set last_sync_at = now() where id = {IC1}', null),
('public.integration_connections', 'update', 'STAFF', 'staff renames a connection', 'rows=0', 'update public.integration_connections set display_name = ''x'' where id = {IC1}', null),
-- webhook_endpoints: owners only -----------------------------------------------------------------------
('public.webhook_endpoints', 'insert', 'VENDOR', 'owner adds an endpoint', 'rows=1 check=true',
 'insert into public.webhook_endpoints (vendor_id, url) values ({V1}, ''https://hooks.example.com/probe'')',
 '(select created_by = {VENDOR} and created_at = now() from public.webhook_endpoints where url = ''https://hooks.example.com/probe'')'),
('public.webhook_endpoints', 'insert', 'STAFF', 'staff adds an endpoint', '42501', 'insert into public.webhook_endpoints (vendor_id, url) values ({V1}, ''https://hooks.example.com/probe'')', null),
('public.webhook_endpoints', 'insert', 'VENDOR', 'owner adds one for another vendor', '42501', 'insert into public.webhook_endpoints (vendor_id, url) values ({VOUT}, ''https://hooks.example.com/probe'')', null),
('public.webhook_endpoints', 'insert', 'VENDOR', 'owner points one at another vendor''s connection', '23503', 'insert into public.webhook_endpoints (vendor_id, url, connection_id) values ({V1}, ''https://hooks.example.com/probe'', {IC2})', null),
('public.webhook_endpoints', 'insert', 'VENDOR', 'owner forges created_by', '42501', 'insert into public.webhook_endpoints (vendor_id, url, created_by) values ({V1}, ''https://hooks.example.com/probe'', {STAFF})', null),
('public.webhook_endpoints', 'update', 'VENDOR', 'owner changes the url', 'rows=1', 'update public.webhook_endpoints set url = ''https://hooks.example.com/new'' where id = {WE1}', null),
('public.webhook_endpoints', 'update', 'STAFF', 'staff changes the url', 'rows=0', 'update public.webhook_endpoints set url = ''https://evil.example.com/'' where id = {WE1}', null),
('public.webhook_endpoints', 'update', 'VENDOR', 'owner moves an endpoint to another vendor', '42501', 'update public.webhook_endpoints set vendor_id = {VOUT} where id = {WE1}', null),
('public.webhook_endpoints', 'update', 'VENDOR', 'owner re-links an endpoint''s connection', '42501', 'update public.webhook_endpoints set connection_id = {IC1} where id = {WE1}', null),
('public.webhook_endpoints', 'update', 'VENDOR', 'owner clears the sidecar''s failure state', '42501', 'update public.webhook_endpoints set failing_since = null where id = {WE1}', null),
('public.webhook_endpoints', 'update', 'OUTSIDER', 'outsider changes the url', 'rows=0', 'update public.webhook_endpoints set url = ''https://evil.example.com/'' where id = {WE1}', null),
-- realtime.messages (Supabase Realtime; topic rules are tested in 03_realtime) -------------------------
('realtime.messages', 'insert', 'anon', 'anon broadcasts on a private topic', '42501',
 'with t as (select set_config(''realtime.topic'', ''conversation:'' || {C1}, true) as topic) insert into realtime.messages (topic, extension, payload, event, private) select t.topic, ''broadcast'', ''{}'', ''probe'', true from t', null),
('realtime.messages', 'insert', 'OUTSIDER', 'outsider broadcasts into another wedding''s conversation', '42501',
 'with t as (select set_config(''realtime.topic'', ''conversation:'' || {C1}, true) as topic) insert into realtime.messages (topic, extension, payload, event, private) select t.topic, ''broadcast'', ''{}'', ''probe'', true from t', null);

-- Every legitimate write is also tried as every other actor: refused or no effect, except for
-- the actors who may make it too.
create temporary table actors (actor text primary key);
insert into actors values ('anon'), ('OUTSIDER'), ('COUPLE'), ('VENDOR'), ('STAFF'), ('PARTICIPANT'), ('MULTI');
update cases c set also = a.also
from (values
  ('owner confirms a booking', array['STAFF']),
  ('staff confirms a booking', array['VENDOR']),
  ('couple cancels a vendor', array['VENDOR', 'STAFF']),
  ('couple starts a conversation', array['VENDOR', 'STAFF', 'PARTICIPANT', 'MULTI']),
  ('participant renames', array['COUPLE', 'MULTI']),
  ('participant adds a vendor of the wedding', array['COUPLE', 'MULTI']),
  ('participant posts', array['COUPLE', 'MULTI']),
  ('owner posts for own vendor', array['STAFF']),
  ('staff posts for own vendor', array['VENDOR']),
  ('couple adds a task', array['VENDOR', 'STAFF', 'PARTICIPANT', 'MULTI']),
  ('two-wedding member adds a task in the other wedding', array['OUTSIDER']),
  ('assigned vendor completes a task', array['COUPLE']),
  ('staff types a busy block', array['VENDOR']),
  ('owner retitles a block', array['STAFF']),
  ('owner books a wedding the vendor works', array['STAFF']),
  ('staff cancels a booking', array['VENDOR'])
) as a(what, also)
where c.what = a.what;
create temporary view cross_cases as
select c.n, c.tbl, c.op, c.what, c.stmt, a.actor
from cases c cross join actors a
where c.expect like 'rows=1%' and a.actor <> c.actor and not a.actor = any (c.also);

-- Tables and operations an API role can write: a privilege on the table or on one of its columns,
-- USAGE on its schema, and (with RLS on) a policy for that command naming the role or PUBLIC.
create temporary view writable as
select n.nspname || '.' || c.relname as tbl, o.op
from pg_class c
join pg_namespace n on n.oid = c.relnamespace
cross join (values ('insert', 'INSERT', 'a'), ('update', 'UPDATE', 'w')) as o(op, priv, cmd)
cross join (values ('anon'), ('authenticated')) as r(role)
where c.relkind in ('r', 'p')
  and n.nspname !~ '^pg_' and n.nspname not in ('information_schema', 'tests')
  and has_schema_privilege(r.role, n.oid, 'USAGE')
  and (has_table_privilege(r.role, c.oid, o.priv) or has_any_column_privilege(r.role, c.oid, o.priv))
  and (not c.relrowsecurity or exists (
        select 1 from pg_policy p
        where p.polrelid = c.oid and p.polcmd in (o.cmd, '*')
          and (p.polroles = '{0}' or (select oid from pg_roles where rolname = r.role) = any (p.polroles))))
group by 1, 2;

select plan((select count(*)::integer from cases) + (select count(*)::integer from cross_cases) + 6);

select set_has(
  $$ select tbl, op from cases $$,
  $$ select tbl, op from writable $$,
  'every table and operation an API role can write has adversarial cases');

select ok((select count(*) from writable) >= 30, 'the catalog query finds the writable tables (sanity: at least 30 table × operation pairs)');

-- Supabase's default privileges grant ALL on new public tables: what the API may write must be
-- column grants, never table-wide (realtime.messages is Supabase's own table).
select is_empty(
  $$ select n.nspname || '.' || c.relname || ' ' || o.priv || ' to ' || r.role
     from pg_class c join pg_namespace n on n.oid = c.relnamespace
     cross join (values ('INSERT'), ('UPDATE')) as o(priv)
     cross join (values ('anon'), ('authenticated')) as r(role)
     where (n.nspname || '.' || c.relname) in (select tbl from writable where tbl <> 'realtime.messages')
       and has_table_privilege(r.role, c.oid, o.priv) $$,
  'no table-wide INSERT or UPDATE for API roles on writable tables');

-- Tenant keys and authorship are set on insert only; server timestamps never by a client.
select is_empty(
  $$ select a.attrelid::regclass::text || '.' || a.attname || ' ' || o.priv || ' to ' || r.role
     from pg_attribute a
     join pg_class c on c.oid = a.attrelid
     join pg_namespace n on n.oid = c.relnamespace
     cross join (values ('INSERT'), ('UPDATE')) as o(priv)
     cross join (values ('anon'), ('authenticated')) as r(role)
     where (n.nspname || '.' || c.relname) in (select tbl from writable where tbl <> 'realtime.messages')
       and a.attnum > 0 and not a.attisdropped
       and has_column_privilege(r.role, a.attrelid, a.attnum, o.priv)
       and (a.attname in ('id', 'created_at', 'updated_at', 'joined_at', 'edited_at', 'last_seen_at',
                          'email_verified_at', 'phone_verified_at', 'email_bounced_at', 'sms_opted_out_at',
                          'phone_invalid_at', 'disabled_at', 'disabled_reason', 'failing_since',
                          'last_success_at', 'last_failure_at', 'last_sync_at', 'last_error')
            or (o.priv = 'UPDATE' and a.attname in ('wedding_id', 'vendor_id', 'conversation_id', 'created_by',
                          'sender_id', 'connection_id', 'parent_id', 'user_id', 'reply_to', 'endpoint_id',
                          'delivery_id', 'notification_id'))) $$,
  'no API role may set server timestamps or ids, or change tenant keys and authorship');

select is_empty(
  $$ select c.oid::regclass::text || ' ' || o.priv
     from pg_class c join pg_namespace n on n.oid = c.relnamespace
     cross join (values ('INSERT'), ('UPDATE'), ('DELETE'), ('TRUNCATE')) as o(priv)
     where n.nspname = 'public' and c.relkind in ('r', 'p')
       and (has_table_privilege('anon', c.oid, o.priv)
            or (o.priv <> 'DELETE' and o.priv <> 'TRUNCATE' and has_any_column_privilege('anon', c.oid, o.priv))) $$,
  'anon writes nothing in public');

select is(tests.attempt(c.actor, c.stmt, c.chk), c.expect,
          format('%s %s as %s: %s', c.op, c.tbl, c.actor, c.what))
from cases c
order by c.n;

select is((select count(*)::integer from cases c where c.also <> '{}'), 16, 'every "also" entry names a case');

select doesnt_match(tests.attempt(x.actor, x.stmt), '^rows=[1-9]',
                    format('%s %s as %s: %s — refused or no effect', x.op, x.tbl, x.actor, x.what))
from cross_cases x
order by x.n, x.actor;

select * from finish();
rollback;
