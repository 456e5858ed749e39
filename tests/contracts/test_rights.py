"""ElysiumRights on a real EVM: registering works, linking items, the licence lifecycle, the
refusals with their decoded errors, and item royalties that follow the licence."""

from __future__ import annotations

from eth_utils.crypto import keccak

from tests.contracts.evm import Evm

REGISTRAR_ROLE = keccak(text="REGISTRAR_ROLE")
CONTENT = keccak(text="the blade's model, v1")
ZERO = "0x" + "00" * 20
SWORD, BANNER = 7, 9
DAY = 86_400


def register(evm: Evm, content: bytes = CONTENT) -> int:
    receipt = evm.send(evm.rights.functions.registerWork(content, "ipfs://work.json"), evm.creator)
    return int(evm.rights.events.WorkRegistered().process_receipt(receipt)[0]["args"]["work"])


def grant(evm: Evm, work: int, licensee: str, start: int, expiry: int, bps: int = 500,
          sender: str | None = None) -> int:
    call = evm.rights.functions.grantLicence(work, licensee, "items", start, expiry, bps)
    receipt = evm.send(call, sender or evm.creator)
    return int(evm.rights.events.LicenceGranted().process_receipt(receipt)[0]["args"]["licence"])


def test_a_creator_registers_a_work(evm: Evm) -> None:
    f = evm.rights.functions
    receipt = evm.send(f.registerWork(CONTENT, "ipfs://work.json"), evm.creator)
    (event,) = evm.rights.events.WorkRegistered().process_receipt(receipt)
    assert event["args"]["work"] == 1 and event["args"]["creator"] == evm.creator
    assert event["args"]["registeredBy"] == evm.creator and event["args"]["contentHash"] == CONTENT
    creator, content, uri, registered_at = f.getWork(1).call()
    assert (creator, content, uri) == (evm.creator, CONTENT, "ipfs://work.json") and registered_at > 0
    assert f.workOfContent(CONTENT).call() == 1 and f.workCount().call() == 1


def test_a_registrar_registers_for_a_creator_and_others_cannot(evm: Evm) -> None:
    f = evm.rights.functions
    err = evm.reverts(f.registerWorkFor(evm.creator, CONTENT, "u"), evm.alice)
    assert err.message == f"{evm.alice} does not hold REGISTRAR_ROLE"
    receipt = evm.send(f.registerWorkFor(evm.creator, CONTENT, "u"), evm.registrar)
    (event,) = evm.rights.events.WorkRegistered().process_receipt(receipt)
    assert event["args"]["creator"] == evm.creator and event["args"]["registeredBy"] == evm.registrar
    assert f.hasRole(REGISTRAR_ROLE, evm.registrar).call()


def test_bad_registrations_are_refused(evm: Evm) -> None:
    f = evm.rights.functions
    err = evm.reverts(f.registerWork(b"\x00" * 32, "u"), evm.creator)
    assert err.error == "EmptyContentHash" and err.message == "the content hash is empty"
    assert evm.reverts(f.registerWorkFor(ZERO, CONTENT, "u"), evm.registrar).error == "ZeroAddress"
    register(evm)
    err = evm.reverts(f.registerWork(CONTENT, "again"), evm.alice)
    assert err.error == "ContentAlreadyRegistered"
    assert err.message == f"content 0x{CONTENT.hex()} is already registered as work 1"
    assert f.workCount().call() == 1


def test_linking_items_to_a_work(evm: Evm) -> None:
    f = evm.rights.functions
    work = register(evm)
    receipt = evm.send(f.linkItems(work, [SWORD]), evm.creator)
    assert [e["args"]["tokenId"] for e in evm.rights.events.ItemLinked().process_receipt(receipt)] == [SWORD]
    evm.send(f.linkItems(work, [BANNER]), evm.registrar)
    assert f.tokensOf(work).call() == [SWORD, BANNER]
    assert f.workOfToken(SWORD).call() == work and f.workOfToken(1234).call() == 0
    err = evm.reverts(f.linkItems(work, [SWORD]), evm.creator)
    assert err.error == "TokenAlreadyLinked" and err.message == f"token {SWORD} is already linked to work {work}"
    err = evm.reverts(f.linkItems(work, [42]), evm.alice)
    assert err.error == "NotCreator" and err.message == f"{evm.alice} is neither the creator of work 1 nor a registrar"
    err = evm.reverts(f.linkItems(5, [42]), evm.creator)
    assert err.error == "UnknownWork" and err.message == "there is no work 5"
    assert f.workOfToken(42).call() == 0


def test_the_licence_lifecycle(evm: Evm) -> None:
    f = evm.rights.functions
    work = register(evm)
    start = evm.now() + DAY
    expiry = start + 30 * DAY
    receipt = evm.send(f.grantLicence(work, evm.alice, "merchandise", start, expiry, 750), evm.creator)
    (event,) = evm.rights.events.LicenceGranted().process_receipt(receipt)
    licence = event["args"]["licence"]
    assert (event["args"]["work"], event["args"]["licensee"], event["args"]["scope"]) == (work, evm.alice,
                                                                                        "merchandise")
    assert (event["args"]["start"], event["args"]["expiry"], event["args"]["royaltyBps"]) == (start, expiry, 750)
    assert f.licencesOf(work).call() == [licence]
    assert f.getLicence(licence).call() == (work, evm.alice, "merchandise", start, expiry, 750, 0)

    valid = f.hasValidLicence
    assert not valid(work, evm.alice, start - 1).call()      # before
    assert valid(work, evm.alice, start).call()              # from its start
    assert valid(work, evm.alice, expiry - 1).call()         # within
    assert not valid(work, evm.alice, expiry).call()         # at and after its expiry
    assert not valid(work, evm.bob, start + 1).call()        # someone else
    assert not valid(work + 1, evm.alice, start + 1).call()  # another work

    evm.travel(start + 10 * DAY)
    receipt = evm.send(f.revokeLicence(licence), evm.creator)
    (revoked,) = evm.rights.events.LicenceRevoked().process_receipt(receipt)
    revoked_at = revoked["args"]["revokedAt"]
    assert revoked_at >= start + 10 * DAY and revoked["args"]["work"] == work
    assert valid(work, evm.alice, revoked_at - 1).call()     # it was valid before the revocation
    assert not valid(work, evm.alice, revoked_at).call()     # and is no longer
    assert not f.isValidAt(licence, expiry - 1).call()
    err = evm.reverts(f.revokeLicence(licence), evm.creator)
    assert err.error == "LicenceAlreadyRevoked" and err.message == f"licence {licence} is already revoked"


def test_a_registrar_grants_and_revokes_for_the_creator(evm: Evm) -> None:
    f = evm.rights.functions
    work = register(evm)
    licence = grant(evm, work, evm.alice, 0, 2**40, sender=evm.registrar)
    assert f.hasValidLicence(work, evm.alice, evm.now()).call()
    evm.send(f.revokeLicence(licence), evm.registrar)
    assert not f.hasValidLicence(work, evm.alice, evm.now() + 1).call()


def test_bad_licences_are_refused(evm: Evm) -> None:
    f = evm.rights.functions
    work = register(evm)
    err = evm.reverts(f.grantLicence(work, evm.alice, "items", 100, 100, 10), evm.creator)
    assert err.error == "InvalidPeriod" and err.arguments == {"start": 100, "expiry": 100}
    assert err.message == "the licence expires (100) before or when it starts (100)"
    err = evm.reverts(f.grantLicence(work, evm.alice, "items", 100, 200, 10_001), evm.creator)
    assert err.error == "ShareTooHigh" and err.message == "a royalty share of 10001 basis points is over 10000"
    assert evm.reverts(f.grantLicence(work, ZERO, "items", 100, 200, 10), evm.creator).error == "ZeroAddress"
    assert evm.reverts(f.grantLicence(work, evm.alice, "items", 100, 200, 10), evm.bob).error == "NotCreator"
    assert evm.reverts(f.grantLicence(99, evm.alice, "items", 100, 200, 10), evm.creator).error == "UnknownWork"
    err = evm.reverts(f.revokeLicence(3), evm.creator)
    assert err.error == "UnknownLicence" and err.message == "there is no licence 3"
    licence = grant(evm, work, evm.alice, 100, 200)
    assert evm.reverts(f.revokeLicence(licence), evm.bob).error == "NotCreator"
    assert f.licenceCount().call() == 1 and f.licencesOf(work).call() == [licence]


def test_a_work_has_a_bounded_number_of_licences(evm: Evm) -> None:
    f = evm.rights.functions
    work = register(evm)
    limit = f.MAX_LICENCES_PER_WORK().call()
    for _ in range(limit):
        evm.send(f.grantLicence(work, evm.alice, "items", 0, 1, 0), evm.creator, gas=400_000)
    err = evm.reverts(f.grantLicence(work, evm.alice, "items", 0, 1, 0), evm.creator)
    assert err.error == "TooManyLicences" and err.message == f"work {work} has the most licences a work may have"


def test_item_royalties_follow_the_licence(evm: Evm) -> None:
    items, rights = evm.items.functions, evm.rights.functions
    evm.send(items.setTokenRoyalty(SWORD, evm.bob, 200), evm.admin)
    work = register(evm)
    evm.send(rights.linkItems(work, [SWORD]), evm.creator)
    # Linked, but no licence: the token's own royalty.
    assert items.royaltyInfo(SWORD, 10_000).call() == [evm.bob, 200]

    now = evm.now()
    first = grant(evm, work, evm.alice, now, now + 100 * DAY, bps=500)
    assert items.royaltyInfo(SWORD, 10_000).call() == [evm.creator, 500]
    assert rights.royaltyFor(SWORD, now + 1).call() == [True, evm.creator, 500]

    # A newer licence valid now wins; one that starts later does not count yet.
    later = grant(evm, work, evm.alice, now + 10 * DAY, now + 20 * DAY, bps=900)
    assert items.royaltyInfo(SWORD, 10_000).call() == [evm.creator, 500]
    evm.travel(now + 10 * DAY)
    assert items.royaltyInfo(SWORD, 10_000).call() == [evm.creator, 900]

    # Revoked, the newer one stops counting; the first one pays again.
    evm.send(rights.revokeLicence(later), evm.creator)
    assert items.royaltyInfo(SWORD, 10_000).call() == [evm.creator, 500]

    # Every licence expired: back to the token's own royalty.
    evm.travel(now + 100 * DAY)
    assert not rights.isValidAt(first, evm.now()).call()
    assert items.royaltyInfo(SWORD, 10_000).call() == [evm.bob, 200]
    # A token of no work never asks the licences.
    assert rights.royaltyFor(12345, now).call() == [False, ZERO, 0]
