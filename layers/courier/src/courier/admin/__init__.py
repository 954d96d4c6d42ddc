"""The admin console's foundation: who is signed in (Cognito tokens) and the audit log."""
