"""Paging: level 1 notified, no ack, level 2 after the delay, ack stops escalation, redelivered
and stale escalation tasks send nothing; snapshots, dedup, auditor, ack timeout, ack links."""

import threading
from datetime import UTC, datetime, timedelta

import pytest
import time_machine

from notifications.models import Notification
from oncall import services, tasks
from oncall.models import Page, PageEvent
from oncall.signals import page_acknowledged
from opsportal.errors import Conflict, InvalidInput
from tests.factories import ServiceFactory, TeamFactory, UserFactory
from tests.oncall.factories import LayerFactory, PolicyFactory, ScheduleFactory, level

T0 = datetime(2026, 3, 3, 10, 0, tzinfo=UTC)  # a Tuesday


@pytest.fixture
def setup(db):
    team = TeamFactory(slug="payments", name="Payments")
    alice, bob, carol, dave = (UserFactory(username=n) for n in ("alice", "bob", "carol", "dave"))
    primary = ScheduleFactory(team=team, name="Primary")
    LayerFactory(schedule=primary, people=[alice, bob])  # alice this week (from Mon 2 March)
    LayerFactory(schedule=primary, start_date=primary.layers.first().start_date, people=[], position=9)
    secondary = ScheduleFactory(team=team, name="Secondary", time_zone="America/New_York")
    LayerFactory(schedule=secondary, people=[carol])
    empty = ScheduleFactory(team=team, name="Nobody")
    policy = PolicyFactory(team=team, name="Payments default", is_team_default=True)
    level(policy, 1, delay=5, schedules=[primary])
    level(policy, 2, delay=10, schedules=[empty])  # resolves to nobody: skipped at once
    level(policy, 3, delay=10, schedules=[secondary], users=[dave])
    service = ServiceFactory(owner_team=team, slug="billing-api", name="Billing API")
    return locals()


def page_notifications(page):
    return list(
        Notification.objects.filter(event_key__startswith=f"oncall:page:{page.pk}:")
        .order_by("pk")
        .values_list("recipient__username", flat=True)
    )


def test_escalation_ack_and_redelivery(setup, django_capture_on_commit_callbacks):
    s = setup
    with time_machine.travel(T0, tick=False), django_capture_on_commit_callbacks(execute=False) as callbacks:
        page = services.open_page(
            title="Billing API 5xx", summary="error rate 12%", url="https://grafana.example.com/d/x",
            service=s["service"], dedup_key="probe:billing:5xx",
        )  # fmt: skip
    assert page.policy == s["policy"]  # the team default, found through the service
    assert page_notifications(page) == ["alice"]
    assert callbacks, "the escalation task is scheduled after commit"
    page.refresh_from_db()
    first_token = page.step_token
    assert page.next_step_at == T0 + timedelta(minutes=5)
    body = Notification.objects.get(event_key__startswith=f"oncall:page:{page.pk}:").body
    assert "/oncall/ack/" in body

    # Not due yet: the auditor leaves it alone.
    with time_machine.travel(T0 + timedelta(minutes=3), tick=False):
        assert services.audit_pages() == []

    # After the delay: level 2 resolves to nobody and is skipped at once; level 3 is notified.
    with time_machine.travel(T0 + timedelta(minutes=5), tick=False):
        assert tasks.escalate_page(page.pk, first_token) is True
    assert page_notifications(page) == ["alice", "carol", "dave"]
    page.refresh_from_db()
    assert page.next_step_at == T0 + timedelta(minutes=15)
    kinds = list(page.events.values_list("kind", "level"))
    assert ("skipped", 2) in kinds
    assert ("notified", 3) in kinds

    # The same delivery again (redelivered task): nothing.
    with time_machine.travel(T0 + timedelta(minutes=6), tick=False):
        assert tasks.escalate_page(page.pk, first_token) is False
    assert len(page_notifications(page)) == 3

    # carol acknowledges; the pending step no longer escalates.
    second_token = page.step_token
    received = []

    def receiver(sender, page, user, at, **kwargs):
        received.append((page.pk, user.username, at))

    page_acknowledged.connect(receiver)
    try:
        with (
            time_machine.travel(T0 + timedelta(minutes=7), tick=False),
            django_capture_on_commit_callbacks(execute=True),
        ):
            services.acknowledge_page(page=page, user=s["carol"], via="api")
    finally:
        page_acknowledged.disconnect(receiver)
    assert received == [(page.pk, "carol", T0 + timedelta(minutes=7))]
    with time_machine.travel(T0 + timedelta(minutes=30), tick=False):
        assert tasks.escalate_page(page.pk, second_token) is False
        assert services.audit_pages() == []
    assert len(page_notifications(page)) == 3
    page.refresh_from_db()
    assert (page.status, page.acknowledged_by, page.next_step_at) == ("acknowledged", s["carol"], None)

    # The loser of an acknowledgement gets Conflict naming the winner.
    with pytest.raises(Conflict, match="Already acknowledged by"):
        services.acknowledge_page(page=page, user=s["alice"], via="link")


def test_policy_is_snapshotted_and_exhaustion_is_marked(setup):
    s = setup
    with time_machine.travel(T0, tick=False):
        page = services.open_page(title="x", summary="", url="", policy=s["policy"], dedup_key="k1")
    # Editing the policy afterwards changes nothing for the running page.
    s["policy"].levels.filter(position=3).delete()
    page.refresh_from_db()
    with time_machine.travel(T0 + timedelta(minutes=5), tick=False):
        tasks.escalate_page(page.pk, page.step_token)
    assert page_notifications(page) == ["alice", "carol", "dave"]
    page.refresh_from_db()
    with time_machine.travel(T0 + timedelta(minutes=15), tick=False):
        tasks.escalate_page(page.pk, page.step_token)
    page.refresh_from_db()
    assert page.status == Page.Status.EXHAUSTED
    assert page.events.filter(kind=PageEvent.Kind.EXHAUSTED).exists()
    # An exhausted page can still be acknowledged.
    services.acknowledge_page(page=page, user=s["bob"], via="admin")


def test_repeat_runs_the_policy_again(setup):
    s = setup
    policy = PolicyFactory(team=s["team"], name="Repeat", repeat=1)
    level(policy, 1, delay=2, users=[s["bob"]])
    with time_machine.travel(T0, tick=False):
        page = services.open_page(title="x", summary="", url="", policy=policy, dedup_key="rep")
    page.refresh_from_db()
    with time_machine.travel(T0 + timedelta(minutes=2), tick=False):
        tasks.escalate_page(page.pk, page.step_token)
    assert page_notifications(page) == ["bob", "bob"]
    page.refresh_from_db()
    with time_machine.travel(T0 + timedelta(minutes=4), tick=False):
        tasks.escalate_page(page.pk, page.step_token)
    page.refresh_from_db()
    assert page.status == Page.Status.EXHAUSTED


@time_machine.travel(T0, tick=False)  # alice's week: the rotation alternates weekly
def test_dedup_key_returns_the_open_page(setup):
    s = setup
    first = services.open_page(title="a", summary="", url="", service=s["service"], dedup_key="same")
    again = services.open_page(title="a again", summary="", url="", service=s["service"], dedup_key="same")
    assert again.pk == first.pk
    assert page_notifications(first) == ["alice"]
    services.resolve_page(page=first, user=s["alice"], reason="fixed")
    third = services.open_page(title="a", summary="", url="", service=s["service"], dedup_key="same")
    assert third.pk != first.pk


def test_subject_is_any_model_instance(setup):
    s = setup
    page = services.open_page(
        title="t", summary="", url="", policy=s["policy"], subject=s["service"], dedup_key="subj"
    )
    page.refresh_from_db()
    assert page.subject == s["service"]


def test_open_page_refuses_bad_input(setup):
    with pytest.raises(InvalidInput):
        services.open_page(title="", summary="", url="", policy=setup["policy"], dedup_key="x")
    with pytest.raises(InvalidInput):
        services.open_page(title="t", summary="", url="", dedup_key="x")  # no policy, no service
    orphan = ServiceFactory()
    with pytest.raises(InvalidInput, match="No escalation policy"):
        services.open_page(title="t", summary="", url="", service=orphan, dedup_key="y")


def test_auditor_resumes_a_lost_task(setup):
    s = setup
    with time_machine.travel(T0, tick=False):
        page = services.open_page(title="x", summary="", url="", policy=s["policy"], dedup_key="lost")
    with time_machine.travel(T0 + timedelta(minutes=7), tick=False):
        assert tasks.audit_pages() == 1  # the countdown task never arrived
        assert tasks.audit_pages() == 0  # and the resumed step is not repeated
    assert page_notifications(page) == ["alice", "carol", "dave"]


def test_ack_timeout_renotifies(setup):
    s = setup
    with time_machine.travel(T0, tick=False):
        page = services.open_page(
            title="x",
            summary="",
            url="",
            policy=s["policy"],
            dedup_key="ackto",
            ack_timeout=timedelta(minutes=30),
        )
        services.acknowledge_page(page=page, user=s["alice"], via="api")
    page.refresh_from_db()
    assert page.next_step_at == T0 + timedelta(minutes=30)
    with time_machine.travel(T0 + timedelta(minutes=31), tick=False):
        assert tasks.escalate_page(page.pk, page.step_token) is True
    page.refresh_from_db()
    assert (page.status, page.round) == ("triggered", 1)
    assert page_notifications(page) == ["alice", "alice"]  # a new round: a new key


def test_resolve_stops_everything(setup):
    s = setup
    page = services.open_page(title="x", summary="", url="", policy=s["policy"], dedup_key="res")
    page.refresh_from_db()
    token = page.step_token
    services.resolve_page(page=page, user=s["bob"], reason="false alarm")
    assert tasks.escalate_page(page.pk, token) is False
    with pytest.raises(Conflict):
        services.resolve_page(page=page)
    with pytest.raises(Conflict, match="resolved"):
        services.acknowledge_page(page=page, user=s["bob"], via="api")


# --- one-click acknowledge link ---------------------------------------------------------------


def test_ack_link_get_confirms_post_acknowledges(setup, client):
    s = setup
    page = services.open_page(title="DB down", summary="", url="", policy=s["policy"], dedup_key="link")
    url = services.ack_url(page, s["alice"]).replace("http://localhost:8000", "")
    response = client.get(url)
    assert response.status_code == 200
    assert b"Acknowledge as" in response.content
    page.refresh_from_db()
    assert page.status == "triggered"  # a link scanner's GET acknowledges nothing
    response = client.post(url)
    assert response.status_code == 200
    page.refresh_from_db()
    assert (page.status, page.acknowledged_by, page.acknowledged_via) == ("acknowledged", s["alice"], "link")
    again = client.post(url)
    assert again.status_code == 409
    assert b"Already acknowledged by" in again.content


def test_ack_link_tampered_expired_and_other_salt(setup, client, settings):
    s = setup
    page = services.open_page(title="x", summary="", url="", policy=s["policy"], dedup_key="tamper")
    token = services.ack_token(page, s["alice"])
    assert client.post(f"/oncall/ack/{token[:-2]}xx/").status_code == 400
    from django.core import signing

    other = signing.dumps({"page": page.pk, "user": s["alice"].pk}, salt="something-else")
    assert client.post(f"/oncall/ack/{other}/").status_code == 400
    with time_machine.travel(datetime.now(UTC) + timedelta(days=2)):
        response = client.post(f"/oncall/ack/{token}/")
    assert response.status_code == 400
    assert b"expired" in response.content
    page.refresh_from_db()
    assert page.status == "triggered"


# --- race on PostgreSQL -------------------------------------------------------------------


@pytest.mark.postgresql  # row locks need PostgreSQL; SQLite serialises writers itself
@pytest.mark.django_db(transaction=True)
def test_concurrent_acknowledgements_one_wins(setup):
    s = setup
    page = services.open_page(title="race", summary="", url="", policy=s["policy"], dedup_key="race")
    barrier = threading.Barrier(4)
    outcomes = []

    def ack(user):
        from django.db import connection as conn

        try:
            barrier.wait()
            services.acknowledge_page(page=page, user=user, via="api")
            outcomes.append(("won", user.username))
        except Conflict as exc:
            outcomes.append(("lost", str(exc)))
        finally:
            conn.close()

    threads = [threading.Thread(target=ack, args=(u,)) for u in (s["alice"], s["bob"], s["carol"], s["dave"])]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    winners = [o for o in outcomes if o[0] == "won"]
    assert len(winners) == 1
    assert all("Already acknowledged by" in o[1] for o in outcomes if o[0] == "lost")
    assert PageEvent.objects.filter(page=page, kind="acknowledged").count() == 1


# --- through the real broker and a real worker ---------------------------------------------


@pytest.mark.integration
@pytest.mark.postgresql  # a worker subprocess cannot open SQLite's in-memory test database
@pytest.mark.django_db(transaction=True)
def test_escalation_task_through_real_worker_sends_nothing_twice(setup):
    from django.utils import timezone

    from oncall.selectors import on_call
    from opsportal.tasks import ping
    from tests.celery_worker import running_worker, wait_for, worker_database_url

    s = setup
    page = services.open_page(title="Real worker", summary="", url="", policy=s["policy"], dedup_key="worker")
    page.refresh_from_db()
    token = page.step_token
    # The worker runs on the real clock: level 1 is whoever's week it is (alice or bob).
    primary = s["primary"].pk
    first = on_call({primary}, timezone.now())[primary].user.username
    with running_worker(queues="critical", extra_env={"DATABASE_URL": worker_database_url()}):
        # The step falls due (published now instead of after its 5-minute countdown).
        tasks.escalate_page.delay(page.pk, token)
        wait_for(lambda: len(page_notifications(page)) == 3, timeout=40)
        # Redelivered twice, then a ping behind them on the same queue proves they ran.
        tasks.escalate_page.delay(page.pk, token)
        tasks.escalate_page.delay(page.pk, token)
        assert ping.delay().get(timeout=30) == "pong"
    assert page_notifications(page) == [first, "carol", "dave"]
    assert PageEvent.objects.filter(page=page, kind="escalated").count() == 1
