"""The role matrix: what each role may do through every door of the portal, as data.

Who may do what is decided in one place per app (``<app>/permissions.py`` and the services).
This table is the specification those decisions are checked against: ``tests/test_role_matrix.py``
enumerates every API operation (from the OpenAPI schema), every registered admin with its
pages and actions, and every page of the URL configuration, fails for a door without a row,
then tries every door as every role and compares what it answered with the row. The docs'
"Roles and permissions" section (docs/operations/security.md) and docs/roles-and-permissions.md
are rendered from it (``manage.py role_matrix --write``).

Columns, left to right: anonymous, signed in with no role, Support, Responders, Release leads,
Engineering managers, superuser.

Cells
    API operations: ``-`` refused (401 anonymous, else 403, or 404 for a row they may not see,
    whatever the request body); ``r`` reads every row (a list returns them all); ``o`` only
    the person's own rows (a list holds theirs and nobody else's; someone else's row is 404);
    ``y`` allowed (a write is accepted or refused for its content, never for who sent it).
    Admin models: the letters of what the person can do - ``l`` list, ``v`` view a row,
    ``h`` its history, ``a`` add, ``e`` edit (the page saves), ``d`` delete - prefixed ``o:``
    when they see only their own rows; ``-`` no access. Admin actions (``model:action``):
    ``y`` offered, ``-`` not. Pages: ``y`` shown, ``-`` refused (anonymous: sent to sign in),
    ``302`` sent elsewhere, another number: that status.
"""

from __future__ import annotations

ROLES = (
    ("anonymous", "Anonymous"),
    ("norole", "Signed in, no role"),
    ("support", "Support"),
    ("responder", "Responders"),
    ("releaselead", "Release leads"),
    ("manager", "Engineering managers"),
    ("superuser", "Superuser"),
)

# Pages under /api/v1/ that are not API operations (the schema and its viewers).
API_PAGES = frozenset({"api-schema", "api-docs", "api-redoc"})
# Pages the test cannot open with a GET on its own (their row is documentation, checked by
# their own tests): SCIM resources with an optional id (django-scim2's one pattern serves the
# list and one resource; machines with a SCIM bearer token only, tests/identity/test_scim.py).
UNPROBED_PAGES: frozenset[str] = frozenset(
    {"scim:users", "scim:groups", "scim:resource-types", "scim:schemas"}
)

API = """
# columns: anonymous, signed in with no role, Support, Responders, Release leads, Engineering managers, superuser
#                                               an no su re re ma su
DELETE /api/v1/escalation-policies/{id}/        -  -  -  -  -  y  y
DELETE /api/v1/maintenance-windows/{id}/        -  -  -  y  -  y  y
DELETE /api/v1/probes/{id}/                     -  -  -  -  -  y  y
DELETE /api/v1/responsibilities/{id}/           -  -  -  -  -  y  y
DELETE /api/v1/runbooks/{slug}/                 -  -  -  -  -  y  y
DELETE /api/v1/schedule-overrides/{id}/         -  -  -  -  -  y  y
DELETE /api/v1/schedules/{id}/                  -  -  -  -  -  y  y
DELETE /api/v1/service-links/{id}/              -  -  -  -  -  y  y
DELETE /api/v1/services/{id}/                   -  -  -  -  -  y  y
DELETE /api/v1/slos/{id}/                       -  -  -  -  -  y  y
DELETE /api/v1/teams/{id}/                      -  -  -  -  -  y  y
GET /api/v1/action-items/                       -  -  -  r  r  r  r
GET /api/v1/action-items/{id}/                  -  -  -  r  r  r  r
GET /api/v1/alert-groups/                       -  -  -  r  r  r  r
GET /api/v1/alert-groups/{id}/                  -  -  -  r  r  r  r
GET /api/v1/alerts/                             -  -  -  r  r  r  r
GET /api/v1/alerts/{id}/                        -  -  -  r  r  r  r
GET /api/v1/api-tokens/                         -  -  -  o  o  o  r
GET /api/v1/api-tokens/{id}/                    -  -  -  o  o  o  r
GET /api/v1/calendar-feeds/                     -  -  -  o  o  o  o
GET /api/v1/check-ins/                          -  -  -  y  y  y  y
GET /api/v1/check-ins/{id}/                     -  -  -  r  r  r  r
GET /api/v1/deployments/                        -  -  -  r  r  r  r
GET /api/v1/deployments/{id}/                   -  -  -  r  r  r  r
GET /api/v1/escalation-policies/                -  -  -  r  r  r  r
GET /api/v1/escalation-policies/{id}/           -  -  -  r  r  r  r
GET /api/v1/escalations/                        -  -  o  o  o  o  o
GET /api/v1/escalations/{id}/                   -  -  o  o  o  o  o
GET /api/v1/incidents/                          -  -  y  r  r  r  r
GET /api/v1/incidents/{id}/                     -  -  r  r  r  r  r
GET /api/v1/incidents/{id}/timeline-markdown/   -  -  -  r  r  r  r
GET /api/v1/incidents/{id}/timeline/            -  -  -  r  r  r  r
GET /api/v1/incidents/{id}/updates/             -  -  -  r  r  r  r
GET /api/v1/maintenance-windows/                -  -  -  r  -  r  r
GET /api/v1/maintenance-windows/{id}/           -  -  -  r  -  r  r
GET /api/v1/metrics/                            -  -  -  y  y  y  y
GET /api/v1/metrics/delivery/                   -  -  -  y  y  y  y
GET /api/v1/metrics/export/                     -  -  -  y  y  y  y
GET /api/v1/oncall/                             -  -  -  y  y  y  y
GET /api/v1/pages/                              -  -  -  r  -  r  r
GET /api/v1/pages/{id}/                         -  -  -  r  -  r  r
GET /api/v1/postmortems/                        -  -  -  r  r  r  r
GET /api/v1/postmortems/{id}/                   -  -  -  r  r  r  r
GET /api/v1/postmortems/{id}/markdown/          -  -  -  r  r  r  r
GET /api/v1/probe-alerts/                       -  -  -  r  r  r  r
GET /api/v1/probe-alerts/{id}/                  -  -  -  r  r  r  r
GET /api/v1/probes/                             -  -  -  r  r  r  r
GET /api/v1/probes/{id}/                        -  -  -  r  r  r  r
GET /api/v1/probes/{id}/events/                 -  -  -  r  r  r  r
GET /api/v1/probes/{id}/results/                -  -  -  r  r  r  r
GET /api/v1/probes/{id}/uptime/                 -  -  -  r  r  r  r
GET /api/v1/release-items/                      -  -  -  r  r  r  r
GET /api/v1/release-items/{id}/                 -  -  -  r  r  r  r
GET /api/v1/releases/                           -  -  -  r  r  r  r
GET /api/v1/releases/{id}/                      -  -  -  r  r  r  r
GET /api/v1/releases/{id}/gate/                 -  -  -  r  r  r  r
GET /api/v1/responsibilities/                   -  -  -  r  r  r  r
GET /api/v1/responsibilities/{id}/              -  -  -  r  r  r  r
GET /api/v1/responsibilities/{id}/cycles/       -  -  -  r  r  r  r
GET /api/v1/runbooks/                           -  -  -  r  r  r  r
GET /api/v1/runbooks/{slug}/                    -  -  -  r  r  r  r
GET /api/v1/runbooks/{slug}/history/            -  -  -  r  r  r  r
GET /api/v1/schedule-overrides/                 -  -  -  r  r  r  r
GET /api/v1/schedule-overrides/{id}/            -  -  -  r  r  r  r
GET /api/v1/schedules/                          -  -  -  r  r  r  r
GET /api/v1/schedules/{id}/                     -  -  -  r  r  r  r
GET /api/v1/schedules/{id}/fairness/            -  -  -  r  r  r  r
GET /api/v1/schedules/{id}/gaps/                -  -  -  r  r  r  r
GET /api/v1/schedules/{id}/shifts/              -  -  -  r  r  r  r
GET /api/v1/service-links/                      -  -  -  r  r  r  r
GET /api/v1/service-links/{id}/                 -  -  -  r  r  r  r
GET /api/v1/services/                           -  -  -  r  r  r  r
GET /api/v1/services/{id}/                      -  -  -  r  r  r  r
GET /api/v1/severities/                         -  -  -  r  r  r  r
GET /api/v1/severities/{id}/                    -  -  -  r  r  r  r
GET /api/v1/slo-burn-alerts/                    -  -  -  r  r  r  r
GET /api/v1/slo-burn-alerts/{id}/               -  -  -  r  r  r  r
GET /api/v1/slos/                               -  -  -  r  r  r  r
GET /api/v1/slos/{id}/                          -  -  -  r  r  r  r
GET /api/v1/slos/{id}/budget/                   -  -  -  r  r  r  r
GET /api/v1/teams/                              -  -  -  r  r  r  r
GET /api/v1/teams/{id}/                         -  -  -  r  r  r  r
PATCH /api/v1/action-items/{id}/                -  -  -  y  -  y  y
PATCH /api/v1/escalation-policies/{id}/         -  -  -  -  -  y  y
PATCH /api/v1/incidents/{id}/                   -  -  -  y  -  y  y
PATCH /api/v1/maintenance-windows/{id}/         -  -  -  y  -  y  y
PATCH /api/v1/postmortems/{id}/                 -  -  -  y  -  y  y
PATCH /api/v1/probes/{id}/                      -  -  -  -  -  y  y
PATCH /api/v1/releases/{id}/                    -  -  -  -  y  y  y
PATCH /api/v1/responsibilities/{id}/            -  -  -  -  -  y  y
PATCH /api/v1/runbooks/{slug}/                  -  -  -  y  -  y  y
PATCH /api/v1/schedules/{id}/                   -  -  -  -  -  y  y
PATCH /api/v1/service-links/{id}/               -  -  -  -  -  y  y
PATCH /api/v1/services/{id}/                    -  -  -  -  -  y  y
PATCH /api/v1/severities/{id}/                  -  -  -  -  -  y  y
PATCH /api/v1/slos/{id}/                        -  -  -  -  -  y  y
PATCH /api/v1/teams/{id}/                       -  -  -  -  -  y  y
POST /api/v1/alert-groups/{id}/acknowledge/      -  -  -  y  -  y  y
POST /api/v1/alert-groups/{id}/resolve/          -  -  -  y  -  y  y
POST /api/v1/action-items/                      -  -  -  y  -  y  y
POST /api/v1/action-items/{id}/status/          -  -  -  y  -  y  y
POST /api/v1/api-tokens/                        -  -  -  y  y  y  y
POST /api/v1/api-tokens/{id}/revoke/            -  -  -  o  o  o  y
POST /api/v1/calendar-feeds/                    -  -  -  y  y  y  y
POST /api/v1/calendar-feeds/{id}/revoke/        -  -  -  o  o  o  o
POST /api/v1/deployments/                       -  -  -  y  y  y  y
POST /api/v1/deployments/{id}/finish/           -  -  -  y  y  y  y
POST /api/v1/escalation-policies/               -  -  -  -  -  y  y
POST /api/v1/escalations/                       -  -  y  y  y  y  y
POST /api/v1/incidents/                         -  -  -  y  -  y  y
POST /api/v1/incidents/{id}/acknowledge/        -  -  -  y  -  y  y
POST /api/v1/incidents/{id}/close/              -  -  -  y  -  y  y
POST /api/v1/incidents/{id}/customer-message/   -  -  -  y  -  y  y
POST /api/v1/incidents/{id}/identify/           -  -  -  y  -  y  y
POST /api/v1/incidents/{id}/mitigate/           -  -  -  y  -  y  y
POST /api/v1/incidents/{id}/reopen/             -  -  -  y  -  y  y
POST /api/v1/incidents/{id}/resolve/            -  -  -  y  -  y  y
POST /api/v1/incidents/{id}/roles/              -  -  -  y  -  y  y
POST /api/v1/incidents/{id}/runbooks/           -  -  -  y  -  y  y
POST /api/v1/incidents/{id}/severity/           -  -  -  y  -  y  y
POST /api/v1/incidents/{id}/take-command/       -  -  -  y  -  y  y
POST /api/v1/incidents/{id}/timeline/           -  -  -  y  -  y  y
POST /api/v1/incidents/{id}/updates/            -  -  -  y  -  y  y
POST /api/v1/maintenance-windows/               -  -  -  y  -  y  y
POST /api/v1/pages/                             -  -  -  y  -  y  y
POST /api/v1/pages/{id}/acknowledge/            -  -  -  y  -  y  y
POST /api/v1/pages/{id}/resolve/                -  -  -  y  -  y  y
POST /api/v1/postmortems/                       -  -  -  y  -  y  y
POST /api/v1/postmortems/{id}/approve/          -  -  -  -  -  y  y
POST /api/v1/postmortems/{id}/publish/          -  -  -  -  -  y  y
POST /api/v1/postmortems/{id}/request-changes/  -  -  -  -  -  y  y
POST /api/v1/postmortems/{id}/submit/           -  -  -  y  -  y  y
POST /api/v1/probes/                            -  -  -  -  -  y  y
POST /api/v1/probes/{id}/pause/                 -  -  -  y  -  y  y
POST /api/v1/probes/{id}/resume/                -  -  -  y  -  y  y
POST /api/v1/probes/{id}/run-now/               -  -  -  y  -  y  y
POST /api/v1/release-items/{id}/update-state/   -  -  -  -  y  y  y
POST /api/v1/releases/                          -  -  -  -  y  y  y
POST /api/v1/releases/{id}/cancel/              -  -  -  -  y  y  y
POST /api/v1/releases/{id}/evaluate/            -  -  -  -  y  y  y
POST /api/v1/releases/{id}/rolled-back/         -  -  -  -  y  y  y
POST /api/v1/releases/{id}/shipped/             -  -  -  -  y  y  y
POST /api/v1/releases/{id}/sign/                -  -  -  -  y  -  -
POST /api/v1/releases/{id}/start-review/        -  -  -  -  y  y  y
POST /api/v1/responsibilities/                  -  -  -  -  -  y  y
POST /api/v1/responsibilities/{id}/check-in/    -  -  -  -  -  y  y
POST /api/v1/responsibilities/{id}/reassign/    -  -  -  -  -  y  y
POST /api/v1/runbooks/                          -  -  -  y  -  y  y
POST /api/v1/runbooks/{slug}/restore/           -  -  -  y  -  y  y
POST /api/v1/runbooks/{slug}/review/            -  -  -  y  -  y  y
POST /api/v1/runbooks/{slug}/test/              -  -  -  y  -  y  y
POST /api/v1/schedule-overrides/                -  -  -  y  -  y  y
POST /api/v1/schedules/                         -  -  -  -  -  y  y
POST /api/v1/service-links/                     -  -  -  -  -  y  y
POST /api/v1/services/                          -  -  -  -  -  y  y
POST /api/v1/slos/                              -  -  -  -  -  y  y
POST /api/v1/slos/{id}/events/                  -  -  -  y  -  y  y
POST /api/v1/teams/                             -  -  -  -  -  y  y
PUT /api/v1/escalation-policies/{id}/           -  -  -  -  -  y  y
PUT /api/v1/incidents/{id}/                     -  -  -  y  -  y  y
PUT /api/v1/maintenance-windows/{id}/           -  -  -  y  -  y  y
PUT /api/v1/probes/{id}/                        -  -  -  -  -  y  y
PUT /api/v1/releases/{id}/                      -  -  -  -  y  y  y
PUT /api/v1/responsibilities/{id}/              -  -  -  -  -  y  y
PUT /api/v1/runbooks/{slug}/                    -  -  -  y  -  y  y
PUT /api/v1/schedules/{id}/                     -  -  -  -  -  y  y
PUT /api/v1/service-links/{id}/                 -  -  -  -  -  y  y
PUT /api/v1/services/{id}/                      -  -  -  -  -  y  y
PUT /api/v1/severities/{id}/                    -  -  -  -  -  y  y
PUT /api/v1/slos/{id}/                          -  -  -  -  -  y  y
PUT /api/v1/teams/{id}/                         -  -  -  -  -  y  y
"""

ADMIN = """
# columns: anonymous, signed in with no role, Support, Responders, Release leads, Engineering managers, superuser
#                                              an no su responder releasele manager   superus
alerts.alert                                   -  -  -  lvh       lvh       lvh       lvh
alerts.alertgroup                              -  -  -  lvh       lvh       lvh       lvh
alerts.alertgroup:acknowledge                  -  -  -  y         -         y         y
alerts.alertgroup:open_incident                -  -  -  y         -         y         y
alerts.alertgroup:resolve                      -  -  -  y         -         y         y
alerts.alertgroup:take_over                    -  -  -  y         -         y         y
alerts.integration                             -  -  -  lvh       -         lvhaed    lvhaed
alerts.integration:revoke                      -  -  -  -         -         y         y
alerts.integration:rotate                      -  -  -  -         -         y         y
alerts.rawpayload                              -  -  -  lvh       -         lvh       lvh
accounts.apitoken                              -  -  -  o:lvha    o:lvha    o:lvha    lvha
accounts.apitoken:revoke_selected              -  -  -  y         y         y         y
accounts.user                                  -  -  -  -         -         lvh       lvhaed
accounts.user:revoke_api_tokens                -  -  -  -         -         y         y
auth.group                                     -  -  -  -         -         -         lvh
axes.accessattempt                             -  -  -  -         -         lvh       lvh
axes.accessattempt:lift_lockout                -  -  -  -         -         y         y
axes.accessfailurelog                          -  -  -  -         -         lvh       lvh
axes.accesslog                                 -  -  -  -         -         lvh       lvh
catalog.service                                -  -  -  lvh       lvh       lvhaed    lvhaed
catalog.team                                   -  -  -  lvh       lvh       lvhaed    lvhaed
chat.incidentchannel                           -  -  -  lvh       lvh       lvh       lvh
deployments.deployment                         -  -  -  lvh       lvh       lvh       lvh
django_celery_beat.crontabschedule             -  -  -  -         -         lvh       lvha
django_celery_beat.intervalschedule            -  -  -  -         -         lvh       lvha
django_celery_beat.periodictask                -  -  -  -         -         lvhe      lvhe
django_celery_beat.periodictask:disable_tasks  -  -  -  -         -         y         y
django_celery_beat.periodictask:enable_tasks   -  -  -  -         -         y         y
escalations.escalation                         -  -  -  lvh       -         lvh       lvh
escalations.escalation:acknowledge_selected    -  -  -  y         -         y         y
escalations.escalation:link_selected           -  -  -  y         -         y         y
escalations.escalation:open_incident_selected  -  -  -  y         -         y         y
escalations.escalation:resolve_selected        -  -  -  y         -         y         y
escalations.supportsettings                    -  -  -  -         -         lvhe      lvhe
identity.auditevent                            -  -  -  -         -         lvh       lvh
identity.departure                             -  -  -  -         -         lvh       lvh
identity.directorygroup                        -  -  -  -         -         lvh       lvh
identity.externalidentity                      -  -  -  -         -         lvh       lvh
identity.scimtoken                             -  -  -  -         -         -         lvha
identity.scimtoken:revoke                      -  -  -  -         -         -         y
importers.importrun                            -  -  -  -         -         lvha      lvha
importers.importrun:apply_plan                 -  -  -  -         -         y         y
incidents.incident                             -  -  -  lvhae     lvh       lvhae     lvhae
incidents.incident:acknowledge_selected        -  -  -  y         -         y         y
incidents.incident:mitigate_selected           -  -  -  y         -         y         y
incidents.incident:resolve_selected            -  -  -  y         -         y         y
incidents.incident:take_command_selected       -  -  -  y         -         y         y
incidents.severity                             -  -  -  lvh       lvh       lvhe      lvhe
notifications.contactmethod                    -  -  -  o:lvhaed  o:lvhaed  o:lvhaed  lvhaed
notifications.notification                     -  -  -  o:lvh     o:lvh     lvh       lvh
notifications.notification:cancel_pending      -  -  -  -         -         y         y
notifications.notification:resend_failed       -  -  -  -         -         y         y
oncall.calendarfeed                            -  -  -  o:lvha    o:lvha    o:lvha    o:lvha
oncall.calendarfeed:revoke                     -  -  -  y         y         y         y
oncall.escalationpolicy                        -  -  -  lvh       lvh       lvhaed    lvhaed
oncall.override                                -  -  -  lvha      lvh       lvhaed    lvhaed
oncall.page                                    -  -  -  lvha      -         lvha      lvha
oncall.page:acknowledge                        -  -  -  y         -         y         y
oncall.page:resolve                            -  -  -  y         -         y         y
oncall.rotationlayer                           -  -  -  lvh       lvh       lvhaed    lvhaed
oncall.schedule                                -  -  -  lvh       lvh       lvhaed    lvhaed
oncall.servicepolicy                           -  -  -  lvh       -         lvhaed    lvhaed
operations.checkin                             -  -  -  lvh       lvh       lvh       lvh
operations.responsibility                      -  -  -  lvh       lvh       lvhaed    lvhaed
operations.responsibility:check_in_now         -  -  -  y         y         y         y
operations.responsibility:reassign_selected    -  -  -  -         -         y         y
postmortems.actionitem                         -  -  -  lvhe      lvh       lvhe      lvhe
postmortems.actionitem:mark_done               -  -  -  y         -         y         y
postmortems.actionitem:mark_in_progress        -  -  -  y         -         y         y
postmortems.holiday                            -  -  -  lvh       -         lvhaed    lvhaed
postmortems.postmortem                         -  -  -  lvhae     lvh       lvhae     lvhae
probes.maintenancewindow                       -  -  -  lvhaed    -         lvhaed    lvhaed
probes.probe                                   -  -  -  lvh       lvh       lvhaed    lvhaed
probes.probe:pause                             -  -  -  y         -         y         y
probes.probe:resume                            -  -  -  y         -         y         y
probes.probe:run_now                           -  -  -  y         -         y         y
probes.probealert                              -  -  -  lvh       lvh       lvh       lvh
readiness.readinesstemplate                    -  -  -  lvh       lvh       lvhaed    lvhaed
readiness.release                              -  -  -  lvh       lvhae     lvhaed    lvhaed
reminders.quiethours                           -  -  -  o:lvhaed  o:lvhaed  lvhaed    lvhaed
reminders.reminderlog                          -  -  -  lvh       lvh       lvh       lvh
reminders.ruleconfig                           -  -  -  -         -         lvhe      lvhe
runbooks.runbook                               -  -  -  lvhae     lvh       lvhaed    lvhaed
runbooks.runbook:mark_reviewed                 -  -  -  y         -         y         y
runbooks.runbook:record_test                   -  -  -  y         -         y         y
slos.burnalert                                 -  -  -  lvh       lvh       lvh       lvh
slos.slo                                       -  -  -  lvh       lvh       lvhaed    lvhaed
status.component                               -  -  -  lvhe      -         lvhaed    lvhaed
status.publicincident                          -  -  -  lvh       -         lvhae     lvhae
status.publicincident:make_not_public          -  -  -  -         -         y         y
status.publicincident:make_public              -  -  -  -         -         y         y
status.scheduledmaintenance                    -  -  -  lvhaed    -         lvhaed    lvhaed
status.scheduledmaintenance:cancel             -  -  -  y         -         y         y
status.subscriber                              -  -  -  -         -         lvhd      lvhd
"""

PAGES = """
# columns: anonymous, signed in with no role, Support, Responders, Release leads, Engineering managers, superuser
#                                    anon noro supp resp rele mana supe
alerts:ingest                        405  405  405  405  405  405  405
alerts:ingest-kind                   405  405  405  405  405  405  405
api-docs                             -    -    y    y    y    y    y
api-not-found                        -    -    -    -    -    -    -
api-redoc                            -    -    y    y    y    y    y
api-schema                           -    -    y    y    y    y    y
catalog:directory                    -    y    y    y    y    y    y
chat:mattermost-action               405  405  405  405  405  405  405
chat:mattermost-command              405  405  405  405  405  405  405
chat:slack-commands                  405  405  405  405  405  405  405
chat:slack-events                    405  405  405  405  405  405  405
chat:slack-interactivity             405  405  405  405  405  405  405
escalations:escalate                 -    -    y    y    y    y    y
escalations:home                     -    -    y    y    y    y    y
healthz                              y    y    y    y    y    y    y
healthz-workers                      503  503  503  503  503  503  503
home                                 -    302  302  302  302  302  302
identity:oidc-callback               400  400  400  400  400  400  400
identity:oidc-start                  -    -    -    -    -    -    -
login                                y    302  302  302  302  302  302
logout                               405  405  405  405  405  405  405
metrics:prometheus                   -    -    -    -    -    -    -
oncall:acknowledge                   y    y    y    y    y    y    y
oncall:ical                          y    y    y    y    y    y    y
operations:check-in                  -    -    -    -    -    y    y
operations:operating-model           -    -    -    y    y    y    y
operations:operating-model-markdown  -    -    -    y    y    y    y
password_change                      -    y    y    y    y    y    y
password_change_done                 -    y    y    y    y    y    y
password_reset                       y    y    y    y    y    y    y
password_reset_complete              y    y    y    y    y    y    y
password_reset_confirm               y    y    y    y    y    y    y
password_reset_done                  y    y    y    y    y    y    y
profile                              -    y    y    y    y    y    y
probes:ping                          y    y    y    y    y    y    y
probes:ping-exit-status              y    y    y    y    y    y    y
probes:ping-fail                     y    y    y    y    y    y    y
probes:ping-start                    y    y    y    y    y    y    y
runbooks:detail                      -    -    -    y    y    y    y
runbooks:index                       -    -    -    y    y    y    y
runbooks:record-test                 405  405  405  405  405  405  405
runbooks:review                      405  405  405  405  405  405  405
scim:groups                          -    -    -    -    -    -    -
scim:groups-search                   -    -    -    -    -    -    -
scim:not-implemented                 -    -    -    -    -    -    -
scim:resource-types                  -    -    -    -    -    -    -
scim:root                            -    -    -    -    -    -    -
scim:schemas                         -    -    -    -    -    -    -
scim:service-provider-config         -    -    -    -    -    -    -
scim:users                           -    -    -    -    -    -    -
scim:users-search                    -    -    -    -    -    -    -
status:confirm                       400  400  400  400  400  400  400
status:feed_atom                     y    y    y    y    y    y    y
status:feed_rss                      y    y    y    y    y    y    y
status:history                       y    y    y    y    y    y    y
status:history_month                 y    y    y    y    y    y    y
status:incident                      y    y    y    y    y    y    y
status:index                         y    y    y    y    y    y    y
status:subscribe                     y    y    y    y    y    y    y
status:summary                       y    y    y    y    y    y    y
status:unsubscribe                   400  400  400  400  400  400  400
"""


def _parse(text: str, key_columns: int) -> dict[str, tuple[str, ...]]:
    rows: dict[str, tuple[str, ...]] = {}
    for number, line in enumerate(text.splitlines(), start=1):
        line = line.split("#", 1)[0].rstrip()
        if not line.strip():
            continue
        parts = line.split()
        key = " ".join(parts[:key_columns])
        cells = tuple(parts[key_columns:])
        if len(cells) != len(ROLES):
            raise ValueError(f"role matrix line {number} ({key}): {len(cells)} cells, expected {len(ROLES)}")
        if key in rows:
            raise ValueError(f"role matrix: {key} appears twice")
        rows[key] = cells
    return rows


def api() -> dict[str, tuple[str, ...]]:
    """``"METHOD /api/v1/path/"`` -> cells."""
    return _parse(API, 2)


def admin() -> dict[str, tuple[str, ...]]:
    """``"app.model"`` or ``"app.model:action"`` -> cells."""
    return _parse(ADMIN, 1)


def pages() -> dict[str, tuple[str, ...]]:
    """URL name -> cells."""
    return _parse(PAGES, 1)


def render(rows: dict[str, tuple[str, ...]]) -> str:
    """Rows in this module's format (aligned columns), for writing a table back."""
    width = max((len(key) for key in rows), default=10) + 2
    cells = [max(len(r[i]) for r in rows.values()) + 2 if rows else 4 for i in range(len(ROLES))]
    head = (
        "# "
        + " " * (width - 2)
        + "".join(k[: cells[i] - 1].ljust(cells[i]) for i, (k, _) in enumerate(ROLES))
    )
    lines = [head.rstrip()]
    for key in sorted(rows):
        lines.append(key.ljust(width) + "".join(c.ljust(cells[i]) for i, c in enumerate(rows[key])).rstrip())
    return "\n".join(lines) + "\n"


# --- documentation ---------------------------------------------------------------------------

# The admin summary lives between these markers in SUMMARY_PATH (it was in README.md until
# the docs site; the markers are unchanged); the full reference is the whole of DOCS_PATH.
README_BEGIN = "<!-- role-matrix:begin (generated by `manage.py role_matrix --write`; do not edit) -->"
README_END = "<!-- role-matrix:end -->"
SUMMARY_PATH = "docs/operations/security.md"
DOCS_PATH = "docs/roles-and-permissions.md"

_ADMIN_WORDS = (("a", "add"), ("e", "edit"), ("d", "delete"))


def _admin_words(cell: str) -> str:
    if cell == "-":
        return "—"
    own, letters = (True, cell[2:]) if cell.startswith("o:") else (False, cell)
    words = ["view"] if set(letters) & set("lvh") else []
    words += [word for letter, word in _ADMIN_WORDS if letter in letters]
    text = "full" if words == ["view", "add", "edit", "delete"] else ", ".join(words)
    return f"own: {text}" if own else text


_API_WORDS = {"-": "—", "r": "all", "o": "own", "y": "yes"}
_PAGE_WORDS = {"-": "—", "y": "yes", "302": "redirect"}


def _table(rows: list[tuple[str, list[str]]], first: str) -> str:
    head = f"| {first} | " + " | ".join(label for _key, label in ROLES) + " |"
    rule = "|" + "---|" * (len(ROLES) + 1)
    body = [f"| {key} | " + " | ".join(cells) + " |" for key, cells in rows]
    return "\n".join([head, rule, *body])


def _model_label(label: str) -> str:
    from django.apps import apps

    model = apps.get_model(label)
    return f"{model._meta.app_config.verbose_name}: {str(model._meta.verbose_name_plural).capitalize()}"


def admin_summary() -> str:
    """The admin (the main UI) per model: what each role can do there. For SUMMARY_PATH."""
    rows = [
        (_model_label(key), [_admin_words(c) for c in cells])
        for key, cells in admin().items()
        if ":" not in key
    ]
    return _table(sorted(rows), "Admin")


def full_reference() -> str:
    """Every door, every role: docs/roles-and-permissions.md."""
    actions = [
        (
            f"{_model_label(key.split(':')[0])}: `{key.split(':')[1]}`",
            ["yes" if c == "y" else "—" for c in cells],
        )
        for key, cells in admin().items()
        if ":" in key
    ]
    api_rows = [(f"`{key}`", [_API_WORDS.get(c, c) for c in cells]) for key, cells in api().items()]
    page_rows = [(f"`{key}`", [_PAGE_WORDS.get(c, c) for c in cells]) for key, cells in pages().items()]
    return (
        "\n\n".join(
            [
                "# Roles and permissions: every door",
                "Generated from `opsportal/role_matrix.py` by `manage.py role_matrix --write`; "
                "`tests/test_role_matrix.py` checks every cell against what the portal answers, as every "
                "role, on demo data. Do not edit by hand.",
                "Columns: anonymous, signed in with no role, and the four roles, then superuser. "
                "**Admin**: *view* (list, open, history), *add*, *edit*, *delete*, *full* (all four); "
                "*own:* only the person's own rows. **API**: *all* (every row), *own* (only the person's "
                "rows; someone else's is 404), *yes* (allowed), — refused (401/403/404 whatever the body). "
                "**Pages**: *yes* shown, *redirect* sent to their own start page, — refused (anonymous: "
                "sent to sign in), a number: that status.",
                "## Admin",
                admin_summary(),
                "## Admin actions",
                _table(sorted(actions), "Action"),
                "## API",
                _table(api_rows, "Operation"),
                "## Pages",
                _table(page_rows, "Page (URL name)"),
            ]
        )
        + "\n"
    )
