from accounts.roles import MANAGERS, RELEASE_LEADS, RESPONDERS, view

ROLE_GRANTS = {
    MANAGERS: view("reminders", "reminderlog", "ruleconfig", "historicalruleconfig", "quiethours")
    | {
        "reminders.change_ruleconfig",
        "reminders.add_quiethours",
        "reminders.change_quiethours",
        "reminders.delete_quiethours",
    },
    # everyone on staff sets their own quiet hours (the admin shows only their own row)
    RESPONDERS: view("reminders", "reminderlog", "quiethours")
    | {"reminders.add_quiethours", "reminders.change_quiethours", "reminders.delete_quiethours"},
    RELEASE_LEADS: view("reminders", "reminderlog", "quiethours")
    | {"reminders.add_quiethours", "reminders.change_quiethours", "reminders.delete_quiethours"},
}
