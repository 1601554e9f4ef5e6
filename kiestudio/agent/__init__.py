"""The studio's agent: tools a chat model calls to search, look at and make media, under the creator's consent.

Chat carries the calls (``chat.toolbox``); this app decides what each one does. A call that spends (``generate``)
becomes a card in the thread with the model, the settings, the prompt in full and the price, and waits for Run or
Skip; one that only reads (``describe_model``, ``search_gallery``, ``view_item``) runs at once. Every id the model
passes is looked up in the conversation's workspace. When every call of a reply has its result (the generations
it launched have ended, or it was skipped or refused), the results go back to the model and the conversation
continues by itself (``services``).
"""
