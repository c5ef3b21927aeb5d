-- vendorhub demo seed: one wedding with 32 connected vendors of every kind, a second wedding with
-- an outsider vendor, couples, a planner, conversations (one threaded) with messages, notification
-- settings in several time zones, preferences, devices and integration connections.
--
-- Ids are fixed so tests and demos can name them (internal/seed/seed.go mirrors them):
--   users                10000000-0000-4000-8000-0000000000NN  (vendor owners without a named
--                                                                person: …-0000000001NN, NN = vendor)
--   vendors              20000000-0000-4000-8000-0000000000NN
--   weddings             30000000-0000-4000-8000-00000000000N
--   conversations        40000000-0000-4000-8000-0000000000NN
--   messages             50000000-0000-4000-8000-0000000000NN
--   connections          60000000-0000-4000-8000-0000000000NN
-- Every demo user's password is "vendorhub-demo" (bcrypt). No integration secrets are seeded:
-- credentials are encrypted by the sidecar's keyring, so connections start without them.

-- People -----------------------------------------------------------------------------------------

create temporary table seed_person (
  n integer primary key,
  full_name text not null,
  email text not null
);
insert into seed_person (n, full_name, email) values
  (1, 'Ava Thompson',   'ava@example.com'),     -- couple, wedding 1
  (2, 'Noah Patel',     'noah@example.com'),    -- couple, wedding 1
  (3, 'Priya Shah',     'priya@harborandvine.example.com'),  -- planner (vendor 3)
  (4, 'Lena Ortiz',     'lena@lumenandlace.example.com'),    -- photographer owner (vendor 1)
  (5, 'Sam Okafor',     'sam@wildstem.example.com'),         -- florist owner (vendor 2)
  (6, 'Oscar Reyes',    'oscar@elsewhere.example.com'),      -- outsider photographer (vendor 33)
  (7, 'Mia Laurent',    'mia@example.com'),     -- couple, wedding 2
  (8, 'Leo Laurent',    'leo@example.com'),     -- couple, wedding 2
  (9, 'Jules Kim',      'jules@lumenandlace.example.com'),   -- photographer staff (vendor 1)
  (10, 'Olivia Grant',  'ops@vendorhub.example.com');        -- operator (app_metadata.role)

create temporary table seed_vendor (
  n integer primary key,
  name text not null,
  kind text not null,
  timezone text not null,
  status text not null,       -- status of its connection to wedding 1 (vendor 33: wedding 2)
  owner integer               -- seed_person.n, or null for a generated owner account
);
insert into seed_vendor (n, name, kind, timezone, status, owner) values
  (1,  'Lumen & Lace Photography', 'photographer', 'Europe/London',    'confirmed', 4),
  (2,  'Wild Stem Florals',        'florist',      'Europe/London',    'booked',    5),
  (3,  'Harbor & Vine Planning',   'planner',      'Europe/London',    'confirmed', 3),
  (4,  'Northlight Films',         'videographer', 'Europe/Dublin',    'booked',    null),
  (5,  'Copper Pot Catering',      'caterer',      'Europe/London',    'booked',    null),
  (6,  'Thornbury Manor',          'venue',        'Europe/London',    'confirmed', null),
  (7,  'DJ Marlowe',               'dj',           'Europe/London',    'booked',    null),
  (8,  'The Velvet Notes',         'band',         'Europe/London',    'proposal',  null),
  (9,  'Sugar & Sage Bakery',      'baker',        'Europe/London',    'booked',    null),
  (10, 'Rev. Anne Whitfield',      'officiant',    'Europe/London',    'confirmed', null),
  (11, 'Glow Bridal Studio',       'hair_makeup',  'Europe/London',    'booked',    null),
  (12, 'Canopy Event Rentals',     'rentals',      'Europe/London',    'booked',    null),
  (13, 'Heritage Cars',            'transport',    'Europe/London',    'booked',    null),
  (14, 'Paper Lantern Stationery', 'stationer',    'Europe/London',    'confirmed', null),
  (15, 'Bloom & Bough',            'florist',      'Europe/London',    'declined',  null),
  (16, 'Golden Hour Photo Booth',  'other',        'Europe/London',    'proposal',  null),
  (17, 'Silver Screen Video',      'videographer', 'America/New_York', 'declined',  null),
  (18, 'The Rolling Bar Co',       'caterer',      'Europe/London',    'booked',    null),
  (19, 'String Theory Quartet',    'band',         'Europe/London',    'booked',    null),
  (20, 'Petal Press Calligraphy',  'stationer',    'Europe/Paris',     'inquiry',   null),
  (21, 'Luxe Linen Hire',          'rentals',      'Europe/London',    'booked',    null),
  (22, 'Coastal Coaches',          'transport',    'Europe/London',    'proposal',  null),
  (23, 'Mane Event Hair',          'hair_makeup',  'Europe/London',    'cancelled', null),
  (24, 'Crumb & Co Desserts',      'baker',        'Europe/London',    'inquiry',   null),
  (25, 'Fireside Fireworks',       'other',        'Europe/London',    'booked',    null),
  (26, 'Willow Creek Barn',        'venue',        'Europe/London',    'declined',  null),
  (27, 'Beat Street DJs',          'dj',           'Europe/London',    'inquiry',   null),
  (28, 'Lighthouse Lighting',      'rentals',      'Europe/London',    'booked',    null),
  (29, 'Knot & Bow Favours',       'other',        'Europe/London',    'booked',    null),
  (30, 'Saffron Table',            'caterer',      'Europe/London',    'proposal',  null),
  (31, 'The Gilded Frame',         'photographer', 'Europe/London',    'inquiry',   null),
  (32, 'Celebrant Co',             'officiant',    'Australia/Sydney', 'inquiry',   null),
  (33, 'Elsewhere Studio',         'photographer', 'Asia/Tokyo',       'booked',    6);

-- Vendors without a named owner get an owner account of their own.
insert into seed_person (n, full_name, email)
select 100 + v.n, v.name || ' (owner)',
       'owner+v' || lpad(v.n::text, 2, '0') || '@vendors.example.com'
from seed_vendor v
where v.owner is null;

insert into auth.users (
  instance_id, id, aud, role, email, encrypted_password, email_confirmed_at,
  confirmation_token, recovery_token, email_change_token_new, email_change,
  raw_app_meta_data, raw_user_meta_data, created_at, updated_at)
select '00000000-0000-0000-0000-000000000000',
       ('10000000-0000-4000-8000-' || lpad(p.n::text, 12, '0'))::uuid,
       'authenticated', 'authenticated', p.email,
       extensions.crypt('vendorhub-demo', extensions.gen_salt('bf', 6)), now(),
       '', '', '', '',
       '{"provider": "email", "providers": ["email"]}',
       jsonb_build_object('full_name', p.full_name),
       now(), now()
from seed_person p;

-- The operator: vendorhub.operator_ids() are the users whose app_metadata.role is "operator";
-- they get the in-app alerts of breaker changes and may open the dashboard with their JWT.
update auth.users set raw_app_meta_data = raw_app_meta_data || '{"role": "operator"}'
where id = '10000000-0000-4000-8000-000000000010';

-- Vendors and weddings ---------------------------------------------------------------------------

insert into public.vendors (id, name, kind, timezone, email)
select ('20000000-0000-4000-8000-' || lpad(v.n::text, 12, '0'))::uuid, v.name, v.kind, v.timezone,
       'hello+v' || lpad(v.n::text, 2, '0') || '@vendors.example.com'
from seed_vendor v;

insert into public.vendor_members (vendor_id, user_id, role)
select ('20000000-0000-4000-8000-' || lpad(v.n::text, 12, '0'))::uuid,
       ('10000000-0000-4000-8000-' || lpad(coalesce(v.owner, 100 + v.n)::text, 12, '0'))::uuid,
       'owner'
from seed_vendor v;
insert into public.vendor_members (vendor_id, user_id, role) values
  ('20000000-0000-4000-8000-000000000001', '10000000-0000-4000-8000-000000000009', 'staff'); -- Jules

insert into public.weddings (id, title, wedding_date, starts_at, timezone) values
  ('30000000-0000-4000-8000-000000000001', 'Ava & Noah at Thornbury Manor', '2027-06-12',
   '2027-06-12 14:00 Europe/London', 'Europe/London'),
  ('30000000-0000-4000-8000-000000000002', 'Mia & Leo in Kyoto', '2027-09-18',
   '2027-09-18 16:00 Asia/Tokyo', 'Asia/Tokyo');

insert into public.wedding_couples (wedding_id, user_id) values
  ('30000000-0000-4000-8000-000000000001', '10000000-0000-4000-8000-000000000001'),
  ('30000000-0000-4000-8000-000000000001', '10000000-0000-4000-8000-000000000002'),
  ('30000000-0000-4000-8000-000000000002', '10000000-0000-4000-8000-000000000007'),
  ('30000000-0000-4000-8000-000000000002', '10000000-0000-4000-8000-000000000008');

-- Vendors 1–32 work on wedding 1; the outsider (33) only on wedding 2.
insert into public.wedding_vendors (wedding_id, vendor_id, status)
select case when v.n = 33 then '30000000-0000-4000-8000-000000000002'::uuid
            else '30000000-0000-4000-8000-000000000001'::uuid end,
       ('20000000-0000-4000-8000-' || lpad(v.n::text, 12, '0'))::uuid,
       v.status
from seed_vendor v;

-- Conversations and messages ---------------------------------------------------------------------
-- created_by becomes the first participant (trigger); the others are added below.

insert into public.conversations (id, wedding_id, parent_id, subject, created_by, created_at) values
  ('40000000-0000-4000-8000-000000000001', '30000000-0000-4000-8000-000000000001', null,
   'Planning with Lumen & Lace', '10000000-0000-4000-8000-000000000001', '2026-11-01 09:00Z'),
  ('40000000-0000-4000-8000-000000000002', '30000000-0000-4000-8000-000000000001', '40000000-0000-4000-8000-000000000001',
   'Shot list', '10000000-0000-4000-8000-000000000004', '2026-11-02 10:00Z'),
  ('40000000-0000-4000-8000-000000000003', '30000000-0000-4000-8000-000000000001', null,
   'Flowers', '10000000-0000-4000-8000-000000000002', '2026-11-03 11:00Z'),
  ('40000000-0000-4000-8000-000000000004', '30000000-0000-4000-8000-000000000001', null,
   'Day-of coordination', '10000000-0000-4000-8000-000000000003', '2026-11-04 08:30Z'),
  ('40000000-0000-4000-8000-000000000005', '30000000-0000-4000-8000-000000000002', null,
   'Kyoto shoot', '10000000-0000-4000-8000-000000000007', '2026-11-05 01:00Z');

insert into public.conversation_participants (conversation_id, user_id, last_read_at)
select ('40000000-0000-4000-8000-' || lpad(c::text, 12, '0'))::uuid,
       ('10000000-0000-4000-8000-' || lpad(u::text, 12, '0'))::uuid,
       null
from (values
  (1, 1), (1, 2), (1, 4), (1, 3),                 -- couple, photographer, planner
  (2, 4), (2, 1), (2, 9),                         -- thread: photographer, Ava, second shooter
  (3, 2), (3, 1), (3, 5),                         -- couple, florist
  (4, 3), (4, 4), (4, 5), (4, 104), (4, 105), (4, 106), (4, 107), -- planner + day-of vendors
  (5, 7), (5, 8), (5, 6)                          -- wedding 2: couple, outsider
) as x(c, u)
on conflict (conversation_id, user_id) do nothing;

insert into public.messages (id, conversation_id, sender_id, body, reply_to, created_at) values
  ('50000000-0000-4000-8000-000000000001', '40000000-0000-4000-8000-000000000001', '10000000-0000-4000-8000-000000000001',
   'Hi Lena! So happy you can do June 12th. Could we talk about the timeline?', null, '2026-11-01 09:05Z'),
  ('50000000-0000-4000-8000-000000000002', '40000000-0000-4000-8000-000000000001', '10000000-0000-4000-8000-000000000004',
   'Of course! I usually suggest 30 minutes for couple portraits before dinner.', '50000000-0000-4000-8000-000000000001', '2026-11-01 09:20Z'),
  ('50000000-0000-4000-8000-000000000003', '40000000-0000-4000-8000-000000000001', '10000000-0000-4000-8000-000000000003',
   'Sunset is 21:18 that day, so golden hour portraits could be around 20:30.', null, '2026-11-01 10:02Z'),
  ('50000000-0000-4000-8000-000000000004', '40000000-0000-4000-8000-000000000002', '10000000-0000-4000-8000-000000000004',
   'Starting the shot list here: getting ready, first look, ceremony, family groups, speeches.', null, '2026-11-02 10:01Z'),
  ('50000000-0000-4000-8000-000000000005', '40000000-0000-4000-8000-000000000002', '10000000-0000-4000-8000-000000000001',
   'Please add one with both grandmothers!', '50000000-0000-4000-8000-000000000004', '2026-11-02 12:40Z'),
  ('50000000-0000-4000-8000-000000000006', '40000000-0000-4000-8000-000000000003', '10000000-0000-4000-8000-000000000002',
   'We love peonies and eucalyptus. Is that realistic for mid-June?', null, '2026-11-03 11:01Z'),
  ('50000000-0000-4000-8000-000000000007', '40000000-0000-4000-8000-000000000003', '10000000-0000-4000-8000-000000000005',
   'Peonies are at their best in June, so yes. I''ll send a mood board this week.', '50000000-0000-4000-8000-000000000006', '2026-11-03 14:15Z'),
  ('50000000-0000-4000-8000-000000000008', '40000000-0000-4000-8000-000000000004', '10000000-0000-4000-8000-000000000003',
   'Load-in at Thornbury opens at 09:00. Please post an update here when you arrive.', null, '2026-11-04 08:31Z'),
  ('50000000-0000-4000-8000-000000000009', '40000000-0000-4000-8000-000000000004', '10000000-0000-4000-8000-000000000106',
   'The east gate is the service entrance; parking for vans is behind the stables.', null, '2026-11-04 09:10Z'),
  ('50000000-0000-4000-8000-000000000010', '40000000-0000-4000-8000-000000000005', '10000000-0000-4000-8000-000000000007',
   'Oscar, could we do a pre-wedding shoot at Fushimi Inari at sunrise?', null, '2026-11-05 01:02Z'),
  ('50000000-0000-4000-8000-000000000011', '40000000-0000-4000-8000-000000000005', '10000000-0000-4000-8000-000000000006',
   'Yes, sunrise is quiet there. Let''s plan for the 16th.', '50000000-0000-4000-8000-000000000010', '2026-11-05 03:30Z');

update public.conversation_participants set last_read_at = '2026-11-01 10:05Z'
where conversation_id = '40000000-0000-4000-8000-000000000001'
  and user_id in ('10000000-0000-4000-8000-000000000001', '10000000-0000-4000-8000-000000000003');

-- Coordination -----------------------------------------------------------------------------------

insert into public.tasks (wedding_id, vendor_id, title, status, due_at, created_by) values
  ('30000000-0000-4000-8000-000000000001', '20000000-0000-4000-8000-000000000001', 'Confirm the family group shot list', 'in_progress', '2027-05-15 17:00Z', '10000000-0000-4000-8000-000000000003'),
  ('30000000-0000-4000-8000-000000000001', '20000000-0000-4000-8000-000000000002', 'Finalise centrepiece design', 'todo', '2027-04-30 17:00Z', '10000000-0000-4000-8000-000000000001'),
  ('30000000-0000-4000-8000-000000000001', '20000000-0000-4000-8000-000000000003', 'Send the final day-of timeline to all vendors', 'todo', '2027-06-01 09:00Z', '10000000-0000-4000-8000-000000000003'),
  ('30000000-0000-4000-8000-000000000001', '20000000-0000-4000-8000-000000000005', 'Menu tasting', 'done', '2027-02-20 18:00Z', '10000000-0000-4000-8000-000000000002'),
  ('30000000-0000-4000-8000-000000000001', null, 'Book the hair and make-up trial', 'blocked', '2027-03-01 12:00Z', '10000000-0000-4000-8000-000000000001'),
  ('30000000-0000-4000-8000-000000000002', '20000000-0000-4000-8000-000000000033', 'Scout sunrise locations', 'todo', '2027-09-10 00:00Z', '10000000-0000-4000-8000-000000000007');

insert into public.vendor_status_updates (wedding_id, vendor_id, status, note, created_by, created_at) values
  ('30000000-0000-4000-8000-000000000001', '20000000-0000-4000-8000-000000000002', 'on_schedule',
   'Peonies ordered from our Lincolnshire grower.', '10000000-0000-4000-8000-000000000005', '2026-11-10 16:00Z'),
  ('30000000-0000-4000-8000-000000000001', '20000000-0000-4000-8000-000000000006', 'on_schedule',
   'Marquee and ceremony lawn reserved.', '10000000-0000-4000-8000-000000000106', '2026-11-11 09:00Z');

-- Availability and bookings ----------------------------------------------------------------------

insert into public.availability_blocks (vendor_id, starts_at, ends_at, all_day, source, external_id, title) values
  ('20000000-0000-4000-8000-000000000001', '2027-06-12 00:00 Europe/London', '2027-06-13 00:00 Europe/London', true, 'manual', null, 'Ava & Noah'),
  ('20000000-0000-4000-8000-000000000001', '2027-06-19 10:00Z', '2027-06-19 22:00Z', false, 'google', 'gcal-demo-evt-0619', 'Wedding (Google Calendar)'),
  ('20000000-0000-4000-8000-000000000001', '2027-06-26 09:00Z', '2027-06-26 21:00Z', false, 'honeybook', 'hb-demo-project-812', 'HoneyBook project'),
  ('20000000-0000-4000-8000-000000000002', '2027-06-11 06:00Z', '2027-06-12 18:00Z', false, 'manual', null, 'Prep and delivery for Thornbury'),
  ('20000000-0000-4000-8000-000000000033', '2027-09-16 20:00Z', '2027-09-17 02:00Z', false, 'manual', null, 'Fushimi Inari sunrise shoot');

insert into public.bookings (vendor_id, wedding_id, starts_at, ends_at, status, source, external_id, title) values
  ('20000000-0000-4000-8000-000000000001', '30000000-0000-4000-8000-000000000001', '2027-06-12 10:00Z', '2027-06-12 22:00Z', 'booked', 'manual', null, 'Ava & Noah, full day'),
  ('20000000-0000-4000-8000-000000000001', null, '2027-06-26 09:00Z', '2027-06-26 21:00Z', 'held', 'honeybook', 'hb-demo-project-812', 'Hold: Carter wedding'),
  ('20000000-0000-4000-8000-000000000002', '30000000-0000-4000-8000-000000000001', '2027-06-12 08:00Z', '2027-06-12 13:00Z', 'booked', 'dubsado', 'dub-demo-job-77', 'Thornbury florals'),
  ('20000000-0000-4000-8000-000000000033', '30000000-0000-4000-8000-000000000002', '2027-09-18 05:00Z', '2027-09-18 14:00Z', 'booked', 'manual', null, 'Mia & Leo');

-- Notification settings, preferences and devices ------------------------------------------------

insert into public.notification_settings (user_id, timezone, quiet_hours_start, quiet_hours_end, email, phone) values
  ('10000000-0000-4000-8000-000000000001', 'Europe/London',       '22:00', '07:00', 'ava@example.com',   '+447700900001'),
  ('10000000-0000-4000-8000-000000000002', 'Europe/London',       '23:00', '07:30', 'noah@example.com',  '+447700900002'),
  ('10000000-0000-4000-8000-000000000003', 'Europe/London',       null,    null,    'priya@harborandvine.example.com', '+447700900003'),
  ('10000000-0000-4000-8000-000000000004', 'America/New_York',    '21:00', '06:00', 'lena@lumenandlace.example.com', '+12025550104'),
  ('10000000-0000-4000-8000-000000000005', 'Europe/Paris',        '20:00', '06:00', 'sam@wildstem.example.com', null),
  ('10000000-0000-4000-8000-000000000006', 'Asia/Tokyo',          '23:00', '08:00', 'oscar@elsewhere.example.com', '+818012345678'),
  ('10000000-0000-4000-8000-000000000007', 'Asia/Tokyo',          null,    null,    'mia@example.com', null),
  ('10000000-0000-4000-8000-000000000008', 'Europe/Berlin',       '22:30', '06:30', 'leo@example.com', null),
  ('10000000-0000-4000-8000-000000000009', 'America/Los_Angeles', '22:00', '07:00', 'jules@lumenandlace.example.com', null);

insert into public.notification_preferences (user_id, category, channel, enabled)
select ('10000000-0000-4000-8000-' || lpad(u::text, 12, '0'))::uuid, category, channel, enabled
from (values
  (1, 'new_message', 'push', true), (1, 'new_message', 'email', false), (1, 'new_message', 'sms', false),
  (1, 'status_change', 'push', true), (1, 'status_change', 'email', true), (1, 'day_of_change', 'sms', true),
  (2, 'new_message', 'push', false), (2, 'new_message', 'email', true), (2, 'task', 'email', true),
  (3, 'status_change', 'push', true), (3, 'task', 'push', true), (3, 'task', 'email', true),
  (3, 'integration_failure', 'email', true), (3, 'day_of_change', 'sms', true),
  (4, 'new_message', 'push', true), (4, 'booking', 'email', true), (4, 'availability', 'push', false),
  (4, 'integration_failure', 'email', true),
  (5, 'new_message', 'email', true), (5, 'booking', 'email', true),
  (6, 'new_message', 'push', true),
  (7, 'new_message', 'push', true), (7, 'new_message', 'in_app', true)
) as x(u, category, channel, enabled);

insert into public.devices (user_id, platform, token) values
  ('10000000-0000-4000-8000-000000000001', 'ios',     'demo-ava-ios:APA91bHdemoTokenForAvaIphone0000000001'),
  ('10000000-0000-4000-8000-000000000001', 'web',     'demo-ava-web:APA91bHdemoTokenForAvaBrowser000000002'),
  ('10000000-0000-4000-8000-000000000002', 'android', 'demo-noah-android:APA91bHdemoTokenForNoahPixel00003'),
  ('10000000-0000-4000-8000-000000000003', 'ios',     'demo-priya-ios:APA91bHdemoTokenForPriyaIphone00004'),
  ('10000000-0000-4000-8000-000000000004', 'android', 'demo-lena-android:APA91bHdemoTokenForLenaGalaxy0005'),
  ('10000000-0000-4000-8000-000000000006', 'ios',     'demo-oscar-ios:APA91bHdemoTokenForOscarIphone00006');

insert into public.notifications (id, user_id, wedding_id, category, title, body, data, read_at, created_at) values
  ('70000000-0000-4000-8000-000000000001', '10000000-0000-4000-8000-000000000001', '30000000-0000-4000-8000-000000000001',
   'new_message', 'Lena Ortiz replied in Planning with Lumen & Lace',
   'Of course! I usually suggest 30 minutes for couple portraits before dinner.',
   '{"conversation_id": "40000000-0000-4000-8000-000000000001", "message_id": "50000000-0000-4000-8000-000000000002"}',
   '2026-11-01 10:05Z', '2026-11-01 09:20Z'),
  ('70000000-0000-4000-8000-000000000002', '10000000-0000-4000-8000-000000000001', '30000000-0000-4000-8000-000000000001',
   'status_change', 'Wild Stem Florals is booked', null,
   '{"vendor_id": "20000000-0000-4000-8000-000000000002"}', null, '2026-11-06 12:00Z');

insert into public.deliveries (notification_id, user_id, channel, provider, status, attempt, provider_id, created_at) values
  ('70000000-0000-4000-8000-000000000001', '10000000-0000-4000-8000-000000000001', 'push', 'fcm', 'delivered', 1,
   'projects/vendorhub-demo/messages/0:1730452800000000%demo', '2026-11-01 09:20Z'),
  ('70000000-0000-4000-8000-000000000002', '10000000-0000-4000-8000-000000000001', 'email', 'resend', 'sent', 1,
   '4ef9a417-02e9-4d39-ad75-9611e0fcc33c', '2026-11-06 12:00Z');

-- Integrations (no secrets: see the header) ------------------------------------------------------

insert into public.integration_connections (id, vendor_id, kind, status, display_name, config, last_sync_at) values
  ('60000000-0000-4000-8000-000000000001', '20000000-0000-4000-8000-000000000001', 'honeybook', 'active',
   'HoneyBook (via Zapier)', '{"zap_name": "HoneyBook project booked -> vendorhub"}', '2026-11-20 08:00Z'),
  ('60000000-0000-4000-8000-000000000002', '20000000-0000-4000-8000-000000000002', 'dubsado', 'active',
   'Dubsado (via Zapier)', '{"zap_name": "Dubsado job status -> vendorhub"}', '2026-11-20 08:05Z'),
  ('60000000-0000-4000-8000-000000000003', '20000000-0000-4000-8000-000000000001', 'google_calendar', 'active',
   'Lena''s Google Calendar', '{"calendar_id": "primary"}', '2026-11-24 23:00Z'),
  ('60000000-0000-4000-8000-000000000004', '20000000-0000-4000-8000-000000000003', 'outbound_webhook', 'active',
   'Harbor & Vine CRM webhook', '{"url": "https://hooks.example.com/vendorhub/harbor-and-vine", "events": ["vendor.status_changed", "task.updated"]}', null),
  ('60000000-0000-4000-8000-000000000005', '20000000-0000-4000-8000-000000000031', 'lightblue', 'needs_reauth',
   'Light Blue calendar feed', '{"feed": "shoots"}', '2026-11-18 07:00Z');

drop table seed_person;
drop table seed_vendor;
