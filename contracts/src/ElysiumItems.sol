// SPDX-License-Identifier: MIT
pragma solidity ^0.8.24;

import {ERC1155} from "@openzeppelin/contracts/token/ERC1155/ERC1155.sol";
import {ERC1155Burnable} from "@openzeppelin/contracts/token/ERC1155/extensions/ERC1155Burnable.sol";
import {ERC1155Pausable} from "@openzeppelin/contracts/token/ERC1155/extensions/ERC1155Pausable.sol";
import {ERC1155Supply} from "@openzeppelin/contracts/token/ERC1155/extensions/ERC1155Supply.sol";
import {ERC1155URIStorage} from "@openzeppelin/contracts/token/ERC1155/extensions/ERC1155URIStorage.sol";
import {ERC2981} from "@openzeppelin/contracts/token/common/ERC2981.sol";
import {AccessControl} from "@openzeppelin/contracts/access/AccessControl.sol";
import {IElysiumRights} from "./IElysiumRights.sol";

/// @title Elysium's game items as ERC-1155 tokens.
/// @notice One token id per stackable item type (ids below 2**128) and one token id per unique
/// item (ids with bit 255 set, supply at most one). The custody key holds MINTER_ROLE.
/// Royalties follow ERC-2981: a token linked to a work in the rights registry pays the work's
/// creator at the share of the work's newest valid licence; any other token pays its own
/// royalty, or the default one.
contract ElysiumItems is ERC1155, ERC1155Burnable, ERC1155Pausable, ERC1155Supply, ERC1155URIStorage, ERC2981, AccessControl {
    bytes32 public constant MINTER_ROLE = keccak256("MINTER_ROLE");
    bytes32 public constant PAUSER_ROLE = keccak256("PAUSER_ROLE");

    /// @notice Bit 255 marks a unique item's token id.
    uint256 public constant UNIQUE_FLAG = 1 << 255;

    /// @notice The rights registry consulted by royaltyInfo; address(0) for none.
    IElysiumRights public rights;

    /// @notice A unique token id can only ever have a supply of one.
    error UniqueTokenSupply(uint256 id);

    event RightsRegistryChanged(address indexed previous, address indexed current);
    event TokenRoyaltyChanged(uint256 indexed id, address indexed receiver, uint96 feeBps);
    event DefaultRoyaltyChanged(address indexed receiver, uint96 feeBps);

    /// @param admin receives DEFAULT_ADMIN_ROLE and PAUSER_ROLE
    /// @param minter receives MINTER_ROLE (the game's custody address)
    /// @param rightsRegistry the ElysiumRights contract, or address(0)
    /// @param baseURI the URI of tokens without their own, with `{id}` substituted by clients
    constructor(address admin, address minter, address rightsRegistry, string memory baseURI) ERC1155(baseURI) {
        _grantRole(DEFAULT_ADMIN_ROLE, admin);
        _grantRole(PAUSER_ROLE, admin);
        _grantRole(MINTER_ROLE, minter);
        rights = IElysiumRights(rightsRegistry);
        emit RightsRegistryChanged(address(0), rightsRegistry);
    }

    /// @notice True when `id` is in the unique items' range.
    function isUnique(uint256 id) public pure returns (bool) {
        return id & UNIQUE_FLAG != 0;
    }

    function mint(address to, uint256 id, uint256 amount, bytes calldata data) external onlyRole(MINTER_ROLE) {
        _mint(to, id, amount, data);
    }

    function mintBatch(address to, uint256[] calldata ids, uint256[] calldata amounts, bytes calldata data)
        external
        onlyRole(MINTER_ROLE)
    {
        _mintBatch(to, ids, amounts, data);
    }

    /// @notice Sets the metadata URI of one token (emits URI).
    function setTokenURI(uint256 id, string calldata tokenURI) external onlyRole(MINTER_ROLE) {
        _setURI(id, tokenURI);
    }

    /// @notice Sets the URI of tokens without their own.
    function setBaseURI(string calldata baseURI) external onlyRole(DEFAULT_ADMIN_ROLE) {
        _setURI(baseURI);
    }

    function setRights(address rightsRegistry) external onlyRole(DEFAULT_ADMIN_ROLE) {
        emit RightsRegistryChanged(address(rights), rightsRegistry);
        rights = IElysiumRights(rightsRegistry);
    }

    function setTokenRoyalty(uint256 id, address receiver, uint96 feeBps) external onlyRole(DEFAULT_ADMIN_ROLE) {
        _setTokenRoyalty(id, receiver, feeBps);
        emit TokenRoyaltyChanged(id, receiver, feeBps);
    }

    function resetTokenRoyalty(uint256 id) external onlyRole(DEFAULT_ADMIN_ROLE) {
        _resetTokenRoyalty(id);
        emit TokenRoyaltyChanged(id, address(0), 0);
    }

    function setDefaultRoyalty(address receiver, uint96 feeBps) external onlyRole(DEFAULT_ADMIN_ROLE) {
        _setDefaultRoyalty(receiver, feeBps);
        emit DefaultRoyaltyChanged(receiver, feeBps);
    }

    function pause() external onlyRole(PAUSER_ROLE) {
        _pause();
    }

    function unpause() external onlyRole(PAUSER_ROLE) {
        _unpause();
    }

    /// @notice ERC-2981. A token linked to a work with a licence valid now pays the work's creator
    /// at that licence's share; otherwise the token's own royalty, else the default royalty.
    function royaltyInfo(uint256 tokenId, uint256 salePrice) public view override returns (address, uint256) {
        if (address(rights) != address(0)) {
            (bool found, address receiver, uint16 shareBps) = rights.royaltyFor(tokenId, block.timestamp);
            if (found) {
                return (receiver, (salePrice * shareBps) / _feeDenominator());
            }
        }
        return super.royaltyInfo(tokenId, salePrice);
    }

    function uri(uint256 id) public view override(ERC1155, ERC1155URIStorage) returns (string memory) {
        return super.uri(id);
    }

    function supportsInterface(bytes4 interfaceId)
        public
        view
        override(ERC1155, ERC2981, AccessControl)
        returns (bool)
    {
        return super.supportsInterface(interfaceId);
    }

    function _update(address from, address to, uint256[] memory ids, uint256[] memory values)
        internal
        override(ERC1155, ERC1155Pausable, ERC1155Supply)
    {
        super._update(from, to, ids, values);
        if (from == address(0)) {
            for (uint256 i = 0; i < ids.length; ++i) {
                if (isUnique(ids[i]) && (values[i] != 1 || totalSupply(ids[i]) != 1)) {
                    revert UniqueTokenSupply(ids[i]);
                }
            }
        }
    }
}
