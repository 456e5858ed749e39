// SPDX-License-Identifier: MIT
pragma solidity ^0.8.24;

import {AccessControl} from "@openzeppelin/contracts/access/AccessControl.sol";
import {IElysiumRights} from "./IElysiumRights.sol";

/// @title A registry of works, the item tokens made from them, and their licences.
/// @notice A creator registers a work itself, or an account holding REGISTRAR_ROLE registers it
/// on the creator's behalf. The creator, or a registrar, links item token ids to the work and
/// grants and revokes licences. A licence is valid at time t when start <= t < expiry and it was
/// not revoked at or before t. Ids of works and licences start at 1.
contract ElysiumRights is AccessControl, IElysiumRights {
    bytes32 public constant REGISTRAR_ROLE = keccak256("REGISTRAR_ROLE");

    /// @notice The denominator of royalty shares: 10000 basis points are the whole price.
    uint16 public constant MAX_SHARE_BPS = 10_000;
    /// @notice Licences a work may have in its life, so that every lookup stays bounded.
    uint256 public constant MAX_LICENCES_PER_WORK = 100;

    struct Work {
        address creator;
        bytes32 contentHash;
        string metadataURI;
        uint64 registeredAt;
    }

    struct Licence {
        uint256 work;
        address licensee;
        string scope;
        uint64 start;
        uint64 expiry;
        uint16 royaltyBps;
        uint64 revokedAt;
    }

    error UnknownWork(uint256 work);
    error UnknownLicence(uint256 licence);
    error NotCreator(uint256 work, address caller);
    error ZeroAddress();
    error EmptyContentHash();
    error ContentAlreadyRegistered(bytes32 contentHash, uint256 work);
    error TokenAlreadyLinked(uint256 tokenId, uint256 work);
    error InvalidPeriod(uint64 start, uint64 expiry);
    error ShareTooHigh(uint16 shareBps);
    error TooManyLicences(uint256 work);
    error LicenceAlreadyRevoked(uint256 licence);

    event WorkRegistered(
        uint256 indexed work, address indexed creator, bytes32 contentHash, string metadataURI, address registeredBy
    );
    event ItemLinked(uint256 indexed work, uint256 indexed tokenId);
    event LicenceGranted(
        uint256 indexed licence,
        uint256 indexed work,
        address indexed licensee,
        string scope,
        uint64 start,
        uint64 expiry,
        uint16 royaltyBps
    );
    event LicenceRevoked(uint256 indexed licence, uint256 indexed work, uint64 revokedAt);

    uint256 public workCount;
    uint256 public licenceCount;

    mapping(uint256 => Work) private _works;
    mapping(uint256 => Licence) private _licences;
    mapping(uint256 => uint256[]) private _licencesOfWork;
    mapping(uint256 => uint256[]) private _tokensOfWork;
    mapping(uint256 => uint256) private _workOfToken;
    mapping(bytes32 => uint256) private _workOfContent;

    /// @param admin receives DEFAULT_ADMIN_ROLE
    /// @param registrar receives REGISTRAR_ROLE (commerce's key), or address(0) for none
    constructor(address admin, address registrar) {
        _grantRole(DEFAULT_ADMIN_ROLE, admin);
        if (registrar != address(0)) {
            _grantRole(REGISTRAR_ROLE, registrar);
        }
    }

    // ---- registering and linking ----

    /// @notice Registers a work whose creator is the caller.
    function registerWork(bytes32 contentHash, string calldata metadataURI) external returns (uint256) {
        return _register(msg.sender, contentHash, metadataURI);
    }

    /// @notice Registers a work on behalf of `creator`.
    function registerWorkFor(address creator, bytes32 contentHash, string calldata metadataURI)
        external
        onlyRole(REGISTRAR_ROLE)
        returns (uint256)
    {
        return _register(creator, contentHash, metadataURI);
    }

    /// @notice Links item token ids to a work; a token belongs to one work at most.
    function linkItems(uint256 work, uint256[] calldata tokenIds) external {
        _authorise(work);
        for (uint256 i = 0; i < tokenIds.length; ++i) {
            uint256 tokenId = tokenIds[i];
            uint256 linked = _workOfToken[tokenId];
            if (linked != 0) revert TokenAlreadyLinked(tokenId, linked);
            _workOfToken[tokenId] = work;
            _tokensOfWork[work].push(tokenId);
            emit ItemLinked(work, tokenId);
        }
    }

    // ---- licences ----

    function grantLicence(
        uint256 work,
        address licensee,
        string calldata scope,
        uint64 start,
        uint64 expiry,
        uint16 royaltyBps
    ) external returns (uint256 id) {
        _authorise(work);
        if (licensee == address(0)) revert ZeroAddress();
        if (expiry <= start) revert InvalidPeriod(start, expiry);
        if (royaltyBps > MAX_SHARE_BPS) revert ShareTooHigh(royaltyBps);
        if (_licencesOfWork[work].length >= MAX_LICENCES_PER_WORK) revert TooManyLicences(work);
        id = ++licenceCount;
        _licences[id] = Licence(work, licensee, scope, start, expiry, royaltyBps, 0);
        _licencesOfWork[work].push(id);
        emit LicenceGranted(id, work, licensee, scope, start, expiry, royaltyBps);
    }

    /// @notice Revokes a licence from now on; it stays valid for times before now.
    function revokeLicence(uint256 licence) external {
        Licence storage l = _licences[licence];
        if (l.work == 0) revert UnknownLicence(licence);
        _authorise(l.work);
        if (l.revokedAt != 0) revert LicenceAlreadyRevoked(licence);
        l.revokedAt = uint64(block.timestamp);
        emit LicenceRevoked(licence, l.work, l.revokedAt);
    }

    // ---- reading ----

    function getWork(uint256 work) external view returns (Work memory) {
        _requireWork(work);
        return _works[work];
    }

    function getLicence(uint256 licence) external view returns (Licence memory) {
        if (_licences[licence].work == 0) revert UnknownLicence(licence);
        return _licences[licence];
    }

    function licencesOf(uint256 work) external view returns (uint256[] memory) {
        _requireWork(work);
        return _licencesOfWork[work];
    }

    function tokensOf(uint256 work) external view returns (uint256[] memory) {
        _requireWork(work);
        return _tokensOfWork[work];
    }

    /// @notice The work a token is linked to, 0 for none.
    function workOfToken(uint256 tokenId) external view returns (uint256) {
        return _workOfToken[tokenId];
    }

    /// @notice The work registered with a content hash, 0 for none.
    function workOfContent(bytes32 contentHash) external view returns (uint256) {
        return _workOfContent[contentHash];
    }

    function isValidAt(uint256 licence, uint256 at) public view returns (bool) {
        Licence storage l = _licences[licence];
        return l.work != 0 && l.start <= at && at < l.expiry && (l.revokedAt == 0 || at < l.revokedAt);
    }

    /// @notice Whether `licensee` holds a licence for `work` valid at time `at` (seconds).
    function hasValidLicence(uint256 work, address licensee, uint256 at) external view returns (bool) {
        uint256[] storage ids = _licencesOfWork[work];
        for (uint256 i = 0; i < ids.length; ++i) {
            if (_licences[ids[i]].licensee == licensee && isValidAt(ids[i], at)) return true;
        }
        return false;
    }

    /// @inheritdoc IElysiumRights
    function royaltyFor(uint256 tokenId, uint256 at)
        external
        view
        returns (bool found, address receiver, uint16 shareBps)
    {
        uint256 work = _workOfToken[tokenId];
        if (work == 0) return (false, address(0), 0);
        uint256[] storage ids = _licencesOfWork[work];
        for (uint256 i = ids.length; i > 0; --i) {
            if (isValidAt(ids[i - 1], at)) {
                return (true, _works[work].creator, _licences[ids[i - 1]].royaltyBps);
            }
        }
        return (false, address(0), 0);
    }

    // ---- internals ----

    function _register(address creator, bytes32 contentHash, string calldata metadataURI) private returns (uint256 id) {
        if (creator == address(0)) revert ZeroAddress();
        if (contentHash == bytes32(0)) revert EmptyContentHash();
        uint256 existing = _workOfContent[contentHash];
        if (existing != 0) revert ContentAlreadyRegistered(contentHash, existing);
        id = ++workCount;
        _works[id] = Work(creator, contentHash, metadataURI, uint64(block.timestamp));
        _workOfContent[contentHash] = id;
        emit WorkRegistered(id, creator, contentHash, metadataURI, msg.sender);
    }

    function _requireWork(uint256 work) private view {
        if (_works[work].creator == address(0)) revert UnknownWork(work);
    }

    /// @dev The creator of a work, or a registrar acting for it, may change it.
    function _authorise(uint256 work) private view {
        _requireWork(work);
        if (msg.sender != _works[work].creator && !hasRole(REGISTRAR_ROLE, msg.sender)) {
            revert NotCreator(work, msg.sender);
        }
    }
}
