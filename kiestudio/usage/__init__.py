"""Usage: the credit ledger, holds for work bought but not yet charged, budgets, caps and reports.

It sits above tenancy (it reads workspaces and memberships) and below the features that spend: a generation
writes a hold when it is created and a ledger entry when Kie charges it; a chat reply writes its entry as it
streams. Budgets and caps read only this app's own tables."""
